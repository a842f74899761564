import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  linkShared,
  listReleases,
  parseRecord,
  readRecord,
  releaseName,
  releasesToPrune,
  removePartialReleases,
  writeRecord,
} from '../../src/deploy/releases.js';
import { formatSize, parseSize } from '../../src/size.js';

describe('releasesToPrune', () => {
  const names = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
  it.each([
    ['keeps the newest N', 3, [], ['r3', 'r2', 'r1']],
    ['never removes current or previous, however old', 2, ['r1', 'r2'], ['r4', 'r3']],
    ['removes nothing when there are no more than N', 6, [], []],
  ] as const)('%s', (_name, keep, protect, pruned) => {
    expect(releasesToPrune(names, keep, new Set(protect))).toEqual(pruned);
  });
});

describe('releaseName', () => {
  it('is the UTC time then the short commit, so names sort by time', () => {
    expect(releaseName('3f2a9c1b7d0e'.padEnd(40, '0'), new Date('2026-11-23T16:05:01.482Z'))).toBe('20261123T160501.482Z-3f2a9c1b7d0e');
  });
});

describe('sizes', () => {
  it.each([
    ['500MB', 500 * 1024 ** 2],
    ['2GB', 2 * 1024 ** 3],
    ['0B', 0],
    ['1TB', 1024 ** 4],
    ['5 MB', undefined],
    ['5mb', undefined],
    ['1.5GB', undefined],
  ])('%s → %s bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });
  it('formats bytes as df -h would', () => {
    expect(formatSize(512)).toBe('512B');
    expect(formatSize(1536)).toBe('1.5KB');
    expect(formatSize(500 * 1024 ** 2)).toBe('500MB');
  });
});

describe('release records: only pollpray decides which release is complete', () => {
  const sha = '3f2a9c1b7d0e'.padEnd(40, 'a');
  const name = `20261123T160501.482Z-${sha.slice(0, 12)}`;
  const record = { version: 1, release: name, sha, completed: '2026-11-23T16:05:02.000Z' };

  function layout() {
    const dir = mkdtempSync(join(tmpdir(), 'pollpray-releases-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'app');
    mkdirSync(join(path, 'releases', name), { recursive: true });
    return { dir, path };
  }

  it.each([
    ['a well-formed record of this release', record, true],
    ['another release\'s name', { ...record, release: 'x' }, false],
    ['a commit the name does not end in', { ...record, sha: 'b'.repeat(40) }, false],
    ['a short commit', { ...record, sha: sha.slice(0, 12) }, false],
    ['an unknown key', { ...record, extra: 1 }, false],
    ['a wrong type', { ...record, version: '1' }, false],
    ['null', null, false],
  ])('parseRecord: %s → %s', (_what, value, ok) => {
    expect(parseRecord(name, JSON.stringify(value)) !== undefined).toBe(ok);
  });

  it.each([['not JSON', '{"version": 1,'], ['empty', '']])('parseRecord: %s text is no record', (_what, text) => {
    expect(parseRecord(name, text)).toBeUndefined();
  });

  it('a written record makes the release complete; recovery keeps it and removes the others', () => {
    const { path } = layout();
    const other = `20261123T170000.000Z-${'c'.repeat(12)}`;
    mkdirSync(join(path, 'releases', other));
    writeRecord(path, name, sha, new Date(), 'app');
    expect(listReleases(path)).toEqual([{ name, dir: join(path, 'releases', name), sha }]);
    expect(removePartialReleases(path, 'app')).toEqual({ removed: [other], adopted: [] });
    expect(existsSync(join(path, 'releases', other))).toBe(false);
  });

  it('a record in the release (the old marker), even a valid one, does not make it complete', () => {
    const { path } = layout();
    writeRecord(path, name, sha, new Date(), 'app');
    const forged = `20261123T170000.000Z-${sha.slice(0, 12)}`;
    mkdirSync(join(path, 'releases', forged));
    writeFileSync(join(path, 'releases', forged, '.pollpray-release'), JSON.stringify({ ...record, release: forged }));
    expect(listReleases(path).map((r) => r.name)).toEqual([name]);
    expect(removePartialReleases(path, 'app').removed).toEqual([forged]);
  });

  it('records behind a symlinked .pollpray are neither read nor written', () => {
    const { dir, path } = layout();
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(join(elsewhere, 'releases'), { recursive: true });
    writeFileSync(join(elsewhere, 'releases', `${name}.json`), JSON.stringify(record));
    symlinkSync(elsewhere, join(path, '.pollpray'));
    expect(readRecord(path, name)).toBeUndefined();
    expect(() => writeRecord(path, name, sha, new Date(), 'app')).toThrow(/is not a directory of pollpray's own/);
    expect(readdirSync(join(elsewhere, 'releases'))).toEqual([`${name}.json`]);
  });

  it('a record that is a link, or a planted temp link, is never followed', () => {
    const { dir, path } = layout();
    writeRecord(path, name, sha, new Date(), 'app');
    const victim = join(dir, 'victim');
    writeFileSync(victim, JSON.stringify(record));
    const file = join(path, '.pollpray', 'releases', `${name}.json`);
    rmSync(file);
    symlinkSync(victim, file);
    expect(readRecord(path, name)).toBeUndefined();
    symlinkSync(victim, join(path, '.pollpray', 'releases', `.${name}.json.tmp-${process.pid}`));
    writeRecord(path, name, sha, new Date(), 'app');
    expect(readFileSync(victim, 'utf8')).toBe(JSON.stringify(record));
    expect(lstatSync(file).isFile()).toBe(true);
  });

  it('upgrading: old markers are adopted for current and older releases only, read as regular files naming their own commit', () => {
    const { dir, path } = layout();
    const marker = (n: string, s: string) => writeFileSync(join(path, 'releases', n, '.pollpray-release'), JSON.stringify({ sha: s, completed: 'x' }));
    const older = `20261122T000000.000Z-${'d'.repeat(12)}`;
    const linked = `20261122T100000.000Z-${'e'.repeat(12)}`;
    const wrong = `20261122T200000.000Z-${'f'.repeat(12)}`;
    const newer = `20261124T000000.000Z-${'0'.repeat(12)}`;
    for (const n of [older, linked, wrong, newer]) mkdirSync(join(path, 'releases', n));
    marker(name, sha);
    marker(older, 'd'.repeat(40));
    writeFileSync(join(dir, 'elsewhere.json'), JSON.stringify({ sha: 'e'.repeat(40) }));
    symlinkSync(join(dir, 'elsewhere.json'), join(path, 'releases', linked, '.pollpray-release'));
    marker(wrong, 'd'.repeat(40));
    marker(newer, '0'.repeat(40));
    symlinkSync(join('releases', name), join(path, 'current'));
    const recovered = removePartialReleases(path, 'app');
    expect(recovered.adopted).toEqual([older, name]);
    expect(recovered.removed.sort()).toEqual([linked, newer, wrong].sort());
    expect(listReleases(path).map((r) => r.name)).toEqual([older, name]);
    // Only once: with records in place, an old marker means nothing.
    mkdirSync(join(path, 'releases', older.replace('000000.000Z', '000001.000Z')));
    marker(older.replace('000000.000Z', '000001.000Z'), 'd'.repeat(40));
    expect(removePartialReleases(path, 'app')).toEqual({ removed: [older.replace('000000.000Z', '000001.000Z')], adopted: [] });
  });
});

describe('records pollpray cannot trust', () => {
  it('a .pollpray that is a symlink: recovery removes nothing, and the next record write refuses', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pollpray-releases-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'app');
    const name = `20261123T160501.482Z-${'a'.repeat(12)}`;
    mkdirSync(join(path, 'releases', name), { recursive: true });
    mkdirSync(join(dir, 'elsewhere'));
    symlinkSync(join(dir, 'elsewhere'), join(path, '.pollpray'));
    expect(removePartialReleases(path, 'app')).toMatchObject({ removed: [], unusable: expect.stringMatching(/\.pollpray is not a directory of pollpray's own/) });
    expect(existsSync(join(path, 'releases', name))).toBe(true);
    expect(() => writeRecord(path, name, 'a'.repeat(40), new Date(), 'app')).toThrow(/not a directory of pollpray's own/);
    expect(readdirSync(join(dir, 'elsewhere'))).toEqual([]);
  });
});

describe('linkShared seeding from the commit', () => {
  function release() {
    const dir = mkdtempSync(join(tmpdir(), 'pollpray-seed-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'app');
    const rel = join(path, 'releases', 'r1');
    mkdirSync(join(rel, 'uploads', 'deep'), { recursive: true });
    mkdirSync(join(rel, 'static'));
    writeFileSync(join(rel, 'static', 'logo.png'), 'png');
    return { path, rel };
  }

  it('copies links inside the release verbatim', () => {
    const { path, rel } = release();
    symlinkSync('../static/logo.png', join(rel, 'uploads', 'logo.png'));
    symlinkSync('../../static', join(rel, 'uploads', 'deep', 'static'));
    expect(linkShared(path, rel, ['uploads'], 'app')).toEqual(['seeded shared uploads from the release']);
    expect(readlinkSync(join(path, 'shared', 'uploads', 'logo.png'))).toBe('../static/logo.png');
    expect(readlinkSync(join(path, 'shared', 'uploads', 'deep', 'static'))).toBe('../../static');
  });

  it.each([
    ['absolute', '/etc/passwd', 'uploads/evil'],
    ['climbing out', '../../../x', 'uploads/evil'],
    // Lexically inside (uploads/../up/x), but up is the commit's link to the releases directory.
    ['through a committed link', '../up/x', 'uploads/evil'],
    // `..` after a link is the link target's parent, not a step back in the path as written.
    ['through a committed link and back up', '../up/../x', 'uploads/evil'],
  ])('refuses a link %s and seeds nothing', (_what, to, link) => {
    const { path, rel } = release();
    symlinkSync('..', join(rel, 'up'));
    symlinkSync(to, join(rel, link));
    expect(() => linkShared(path, rel, ['uploads'], 'app')).toThrow(new RegExp(`the commit's ${link} is a symlink to ${to.replace(/\./g, '\\.')}, outside the release`));
    expect(existsSync(join(path, 'shared', 'uploads'))).toBe(false);
  });
});

it('recovery removes record temps a killed writer left, and records of releases that are gone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-releases-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'app');
  const sha = 'a'.repeat(40);
  const name = `20261123T160501.482Z-${sha.slice(0, 12)}`;
  mkdirSync(join(path, 'releases', name), { recursive: true });
  writeRecord(path, name, sha, new Date(), 'app');
  const records = join(path, '.pollpray', 'releases');
  writeFileSync(join(records, `.${name}.json.tmp-999999`), '{');
  writeFileSync(join(records, `20261101T000000.000Z-${'b'.repeat(12)}.json`), '{}');
  removePartialReleases(path, 'app');
  expect(readdirSync(records)).toEqual([`${name}.json`]);
});
