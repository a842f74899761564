import { describe, expect, it } from 'vitest';
import { fleetRows, gate, pollIntervalMs, slotOrder, type GateInput } from '../../src/coordination/gate.js';
import { splayDelayMs } from '../../src/coordination/splay.js';
import type { Verdict } from '../../src/coordination/store.js';

const SHA = 'a'.repeat(40);
const healthy: Verdict = { verdict: 'healthy', host: 'canary-1', time: '2026-01-01T00:00:00Z' };
const bad: Verdict = { verdict: 'bad', host: 'canary-1', time: '2026-01-01T00:00:00Z', reason: 'deploy script exited with 3' };
const base: GateInput = { sha: SHA, canary: false, groupHasCanary: true, verdict: null, force: false };

describe('may this host deploy the commit now', () => {
  it.each<[string, Partial<GateInput>, string]>([
    ['a canary deploys a new commit first', { canary: true }, 'proceed:canary'],
    ['a follower waits while no canary has reported', {}, 'hold:awaiting-canary'],
    ['a follower goes once a canary reported the commit healthy', { verdict: healthy }, 'proceed:canary-healthy'],
    ['a follower in a group without canaries goes at once', { groupHasCanary: false }, 'proceed:no-canary-in-group'],
    ['nobody deploys a commit that failed on a canary', { verdict: bad }, 'hold:bad-commit'],
    ['not even another canary', { canary: true, verdict: bad }, 'hold:bad-commit'],
    ['nor a follower in a group whose canaries left', { groupHasCanary: false, verdict: bad }, 'hold:bad-commit'],
    ['run --force overrides a bad verdict', { verdict: bad, force: true }, 'proceed:forced'],
    ['run --force does not wait for a canary', { force: true }, 'proceed:forced'],
  ])('%s', (_name, input, expected) => {
    const d = gate({ ...base, ...input });
    expect(d.action === 'proceed' ? `proceed:${d.why}` : `hold:${d.reason}`).toBe(expected);
  });

  it('a hold says what it waits for; a bad verdict without a reason names only the canary', () => {
    expect(gate(base)).toEqual({ action: 'hold', reason: 'awaiting-canary', detail: `waiting for a canary to report ${SHA.slice(0, 12)} healthy` });
    const { reason: _none, ...noReason } = bad;
    expect(gate({ ...base, verdict: noReason })).toEqual({
      action: 'hold',
      reason: 'bad-commit',
      detail: `commit ${SHA.slice(0, 12)} failed on canary canary-1: the group will not deploy it; push a fix (or run --force)`,
    });
  });

  it('says which canary refused the commit, why, and how to get past it', () => {
    const d = gate({ ...base, verdict: bad });
    expect(d).toMatchObject({ detail: `commit ${SHA.slice(0, 12)} failed on canary canary-1 (deploy script exited with 3): the group will not deploy it; push a fix (or run --force)` });
  });
});

describe('slots and polling', () => {
  it('each host tries every slot exactly once, starting at a host-specific slot', () => {
    for (const host of ['web-01', 'web-02', 'db-7']) expect([...slotOrder(host, 5)].sort()).toEqual([0, 1, 2, 3, 4]);
    const starts = new Set(Array.from({ length: 50 }, (_, i) => slotOrder(`web-${i}`, 5)[0]));
    expect(starts.size).toBe(5);
  });

  it('polls a fraction of the lease, never faster than 100ms nor slower than 500ms', () => {
    expect(pollIntervalMs(500)).toBe(100);
    expect(pollIntervalMs(3000)).toBe(300);
    expect(pollIntervalMs(30_000)).toBe(500);
  });
});

describe('fleet records', () => {
  const rec = (host: string, time: string, canary = false) => ({ host, target: 'app', canary, commit: SHA, result: 'deployed', time });
  it('puts canaries first and flags hosts silent for longer than stale_after', () => {
    const now = Date.parse('2026-01-01T01:00:00Z');
    const rows = fleetRows([rec('web-2', '2026-01-01T00:59:00Z'), rec('web-1', '2026-01-01T00:30:00Z'), rec('canary', '2026-01-01T00:59:30Z', true)], now, 15 * 60_000);
    expect(rows.map((r) => [r.host, r.ageMs / 1000, r.stale])).toEqual([
      ['canary', 30, false],
      ['web-1', 1800, true],
      ['web-2', 60, false],
    ]);
  });

  it('a host silent for exactly stale_after is not stale yet; one millisecond more is', () => {
    const now = Date.parse('2026-01-01T01:00:00Z');
    expect(fleetRows([rec('a', '2026-01-01T00:59:00.000Z')], now, 60_000)[0]?.stale).toBe(false);
    expect(fleetRows([rec('a', '2026-01-01T00:58:59.999Z')], now, 60_000)[0]?.stale).toBe(true);
  });

  it('treats a record with an unreadable time as stale', () => {
    expect(fleetRows([rec('x', 'garbage')], Date.now(), 60_000)[0]?.stale).toBe(true);
  });
});

describe('splay', () => {
  it('gives each host the same delay on every run, inside the splay window', () => {
    expect(splayDelayMs('web-01', 60_000)).toBe(splayDelayMs('web-01', 60_000));
    expect(splayDelayMs('web-01', 0)).toBe(0);
    for (let i = 0; i < 100; i++) expect(splayDelayMs(`web-${i}`, 60_000)).toBeLessThan(60_000);
  });

  it('spreads 1,000 hosts over every second of a 60s splay, no second holding more than twice its share', () => {
    const perSecond = new Array<number>(60).fill(0);
    for (let i = 1; i <= 1000; i++) {
      const s = Math.floor(splayDelayMs(`web-${String(i).padStart(4, '0')}`, 60_000) / 1000);
      perSecond[s] = (perSecond[s] ?? 0) + 1;
    }
    expect(Math.min(...perSecond)).toBeGreaterThan(0);
    expect(Math.max(...perSecond)).toBeLessThanOrEqual(2 * Math.ceil(1000 / 60));
  });
});
