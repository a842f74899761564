/**
 * The webhook delivery memory (state_dir/serve/deliveries.json): what a redelivery or a
 * replay is recognised by, in memory and after a restart, and which files read back are
 * trusted. Webhook senders and state files read back are untrusted.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DeliveryMemory, validDeliveries } from '../../src/serve/deliveries.js';
import { DELIVERIES_KEPT } from '../../src/state/store.js';

const digest = (n: number) => n.toString(16).padStart(64, '0');

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-deliveries-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function withFile(content: unknown): string {
  const dir = stateDir();
  mkdirSync(join(dir, 'serve'));
  writeFileSync(join(dir, 'serve', 'deliveries.json'), JSON.stringify(content));
  return dir;
}

describe('the delivery memory', () => {
  it('a delivery without an id (older GitLab: sha256:<digest>) is remembered across a restart', () => {
    const dir = stateDir();
    const id = `sha256:${digest(7)}`;
    new DeliveryMemory(dir).remember(id, digest(7));
    const again = new DeliveryMemory(dir);
    expect(again.movedAside).toBeUndefined();
    expect(again.seen(id, digest(8))).toBe('id');
  });

  it('what is remembered is on disk at once, as version 2, oldest first', () => {
    const dir = stateDir();
    const m = new DeliveryMemory(dir);
    m.remember('id-1', digest(1));
    m.remember('id-2', digest(2));
    expect(JSON.parse(readFileSync(join(dir, 'serve', 'deliveries.json'), 'utf8'))).toEqual({
      version: 2,
      deliveries: [
        { id: 'id-1', digest: digest(1) },
        { id: 'id-2', digest: digest(2) },
      ],
    });
  });

  it(`past ${DELIVERIES_KEPT}, the oldest is forgotten in memory (id and body) and the newest are all still known`, () => {
    const full = Array.from({ length: DELIVERIES_KEPT }, (_, i) => ({ id: `id-${i}`, digest: digest(i) }));
    const dir = withFile({ version: 2, deliveries: full });
    const m = new DeliveryMemory(dir);
    expect(m.movedAside).toBeUndefined();
    expect(m.seen('other', digest(0))).toBe('body');
    m.remember('id-new', digest(DELIVERIES_KEPT));
    expect(m.seen('id-0', digest(DELIVERIES_KEPT + 1))).toBeUndefined();
    expect(m.seen('other', digest(0))).toBeUndefined();
    expect(m.seen('id-1', digest(DELIVERIES_KEPT + 1))).toBe('id');
    expect(m.seen('other', digest(1))).toBe('body');
    expect(m.seen('id-new', digest(DELIVERIES_KEPT + 1))).toBe('id');
    expect(m.seen('other', digest(DELIVERIES_KEPT))).toBe('body');
    const written = JSON.parse(readFileSync(join(dir, 'serve', 'deliveries.json'), 'utf8')) as { deliveries: { id: string }[] };
    expect(written.deliveries).toHaveLength(DELIVERIES_KEPT);
    expect(written.deliveries[0]).toEqual({ id: 'id-1', digest: digest(1) });
    expect(written.deliveries.at(-1)).toEqual({ id: 'id-new', digest: digest(DELIVERIES_KEPT) });
  });

  it('a valid file is read as is, nothing moved aside', () => {
    const dir = withFile({ version: 2, deliveries: [{ id: 'a1', digest: digest(1) }] });
    const m = new DeliveryMemory(dir);
    expect(m.movedAside).toBeUndefined();
    expect(existsSync(join(dir, 'serve', 'deliveries.json'))).toBe(true);
    expect(m.seen('a1', digest(2))).toBe('id');
    expect(m.seen('b', digest(1))).toBe('body');
  });
});

describe('which deliveries files are trusted', () => {
  const ok = { id: 'a1', digest: digest(1) };
  it.each([
    ['a digest with a character before it', { id: 'a1', digest: `x${digest(1)}` }],
    ['a digest with a character after it', { id: 'a1', digest: `${digest(1)}x` }],
    ['a digest of 63 characters', { id: 'a1', digest: digest(1).slice(1) }],
    ['an upper-case digest', { id: 'a1', digest: 'A'.repeat(64) }],
    ['an id starting with a dash', { id: '-x', digest: digest(1) }],
    ['an id with a newline', { id: 'a\nb', digest: digest(1) }],
    ['an extra key', { ...ok, at: 'x' }],
  ])('a record with %s is refused, the whole file with it', (_what, record) => {
    expect(validDeliveries({ version: 2, deliveries: [ok, record] })).toBeUndefined();
  });

  it('the file as this version writes it is read back record by record', () => {
    expect(validDeliveries({ version: 2, deliveries: [ok, { id: `sha256:${digest(2)}`, digest: digest(2) }] })).toEqual([ok, { id: `sha256:${digest(2)}`, digest: digest(2) }]);
    expect(validDeliveries({ version: 2, deliveries: [] })).toEqual([]);
    expect(validDeliveries({ version: 2, deliveries: [ok], extra: 1 })).toBeUndefined();
  });
});
