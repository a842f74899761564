/**
 * The releases layout on disk (real directories, links and records in a temp dir):
 * shared paths linked into a release, recovery after a crash, pruning and removal.
 */
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { currentRelease, linkShared, listReleases, readRecord, releasesToPrune, removePartialReleases, removeRelease, switchCurrent, writeRecord } from '../../src/deploy/releases.js';
import { EnvironmentError, GitError } from '../../src/errors.js';
import { requireRoot } from '../helpers/require-env.js';

const sha = (c: string) => c.repeat(40);
const nameOf = (time: string, s: string) => `20261123T${time}.000Z-${s.slice(0, 12)}`;

function app() {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-layout-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'app');
  mkdirSync(path);
  const release = (time: string, s: string, complete = true) => {
    const name = nameOf(time, s);
    mkdirSync(join(path, 'releases', name), { recursive: true });
    if (complete) writeRecord(path, name, s, new Date(), 'app');
    return name;
  };
  return { dir, path, release };
}

function thrown(fn: () => unknown): Error & { hint?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { hint?: string };
  }
  throw new Error('expected an error');
}

describe('shared paths', () => {
  it('a missing shared directory is created empty and linked; a second release links the same one', () => {
    const { path, release } = app();
    const r1 = join(path, 'releases', release('100000', sha('a')));
    expect(linkShared(path, r1, ['storage/logs'], 'app')).toEqual(['created empty shared directory storage/logs']);
    expect(lstatSync(join(path, 'shared', 'storage', 'logs')).isDirectory()).toBe(true);
    expect(readlinkSync(join(r1, 'storage', 'logs'))).toBe(join(path, 'shared', 'storage', 'logs'));
    const r2 = join(path, 'releases', release('110000', sha('b')));
    mkdirSync(join(r2, 'storage', 'logs'), { recursive: true });
    writeFileSync(join(r2, 'storage', 'logs', 'committed.log'), 'x');
    expect(linkShared(path, r2, ['storage/logs'], 'app')).toEqual([]);
    expect(readlinkSync(join(r2, 'storage', 'logs'))).toBe(join(path, 'shared', 'storage', 'logs'));
    expect(readdirSync(join(path, 'shared', 'storage', 'logs'))).toEqual([]);
  });

  it('a missing shared file (a name with an extension) is an error naming what to create; nothing is linked', () => {
    const { path, release } = app();
    const r1 = join(path, 'releases', release('100000', sha('a')));
    const err = thrown(() => linkShared(path, r1, ['config/.env'], 'app'));
    expect(err).toBeInstanceOf(EnvironmentError);
    expect(err.message).toBe(`shared path ${join(path, 'shared', 'config', '.env')} does not exist`);
    expect(err.hint).toBe(`create it (e.g. touch ${join(path, 'shared', 'config', '.env')}, or mkdir for a directory), or remove config/.env from shared`);
    expect(existsSync(join(r1, 'config', '.env'))).toBe(false);
  });

  it('a committed file seeds shared/ once; an existing shared file wins over the commit', () => {
    const { path, release } = app();
    const r1 = join(path, 'releases', release('100000', sha('a')));
    writeFileSync(join(r1, '.env'), 'FROM_COMMIT=1\n');
    expect(linkShared(path, r1, ['.env'], 'app')).toEqual(['seeded shared .env from the release']);
    expect(lstatSync(join(r1, '.env')).isSymbolicLink()).toBe(true);
    writeFileSync(join(path, 'shared', '.env'), 'EDITED=1\n');
    const r2 = join(path, 'releases', release('110000', sha('b')));
    writeFileSync(join(r2, '.env'), 'FROM_COMMIT=2\n');
    expect(linkShared(path, r2, ['.env'], 'app')).toEqual([]);
    expect(readlinkSync(join(r2, '.env'))).toBe(join(path, 'shared', '.env'));
  });

  it('a shared path that is a committed symlink is not seeded from', () => {
    const { path, release } = app();
    const r1 = join(path, 'releases', release('100000', sha('a')));
    symlinkSync('static', join(r1, 'uploads'));
    const err = thrown(() => linkShared(path, r1, ['uploads'], 'app'));
    expect(err).toBeInstanceOf(GitError);
    expect(err.message).toBe(`shared path uploads is a symlink in the commit: pollpray does not seed ${join(path, 'shared', 'uploads')} from a link`);
    expect(err.hint).toBe(
      `create ${join(path, 'shared', 'uploads')} yourself (mkdir, or touch for a file), or replace the symlink on the way to uploads in the repository by a real directory (or remove uploads from shared), and push`,
    );
    expect(existsSync(join(path, 'shared', 'uploads'))).toBe(false);
  });

  it('a shared path whose parent is a committed link out of the release is refused before anything is touched', () => {
    const { dir, path, release } = app();
    const r1 = join(path, 'releases', release('100000', sha('a')));
    mkdirSync(join(dir, 'outside'));
    symlinkSync(join(dir, 'outside'), join(r1, 'var'));
    const err = thrown(() => linkShared(path, r1, ['var/uploads'], 'app'));
    expect(err).toBeInstanceOf(GitError);
    expect(err.message).toBe(`shared path var/uploads leads out of the release through a symlink in the commit (to ${join(dir, 'outside', 'uploads')})`);
    expect(readdirSync(join(dir, 'outside'))).toEqual([]);
    expect(existsSync(join(path, 'shared'))).toBe(false);
  });

  it('a seeded directory of plain files and subdirectories is copied whole', () => {
    const { path, release } = app();
    const r1 = join(path, 'releases', release('100000', sha('a')));
    mkdirSync(join(r1, 'uploads', 'sub'), { recursive: true });
    writeFileSync(join(r1, 'uploads', 'a-readme.txt'), 'r');
    writeFileSync(join(r1, 'uploads', 'sub', 'x.txt'), 'x');
    expect(linkShared(path, r1, ['uploads'], 'app')).toEqual(['seeded shared uploads from the release']);
    expect(readdirSync(join(path, 'shared', 'uploads')).sort()).toEqual(['a-readme.txt', 'sub']);
    expect(readFileSync(join(path, 'shared', 'uploads', 'sub', 'x.txt'), 'utf8')).toBe('x');
  });

  it('a link out of the release deep inside a seeded directory is found', () => {
    const { path, release } = app();
    const r1 = join(path, 'releases', release('100000', sha('a')));
    mkdirSync(join(r1, 'uploads', 'a', 'b'), { recursive: true });
    writeFileSync(join(r1, 'uploads', 'a', 'file'), 'x');
    symlinkSync('/etc', join(r1, 'uploads', 'a', 'b', 'etc'));
    expect(() => linkShared(path, r1, ['uploads'], 'app')).toThrow("the commit's uploads/a/b/etc is a symlink to /etc, outside the release");
  });
});

describe('recovery, records, pruning', () => {
  it('without a releases directory there is nothing to recover', () => {
    const { path } = app();
    expect(removePartialReleases(path, 'app')).toEqual({ removed: [], adopted: [] });
    expect(listReleases(path)).toEqual([]);
    expect(currentRelease(path)).toBeNull();
  });

  it('removes partial releases but never current, stray records, record dirs and current temp links; keeps the rest', () => {
    const { path, release } = app();
    const done = release('100000', sha('a'));
    const live = release('110000', sha('b'), false);
    const partial = release('120000', sha('c'), false);
    switchCurrent(path, live, 'app');
    expect(currentRelease(path)).toBe(live);
    const records = join(path, '.pollpray', 'releases');
    mkdirSync(join(records, 'junk.json'));
    writeFileSync(join(records, 'notes.txt'), '');
    // An editor's backup of a record: named after a release, but not its record.
    writeFileSync(join(records, `${done}.orig`), '');
    symlinkSync('releases/x', join(path, '.current.tmp-424242'));
    writeFileSync(join(path, 'keep.current.tmp-1'), '');
    expect(removePartialReleases(path, 'app')).toEqual({ removed: [partial], adopted: [] });
    expect(readdirSync(join(path, 'releases')).sort()).toEqual([done, live]);
    expect(readdirSync(records)).toEqual([`${done}.json`]);
    expect(readdirSync(path).sort()).toEqual(['.pollpray', 'current', 'keep.current.tmp-1', 'releases']);
  });

  it('a records directory that is not pollpray\'s makes recovery remove nothing and say why', () => {
    const { dir, path, release } = app();
    release('100000', sha('a'), false);
    rmSync(join(path, '.pollpray'), { recursive: true, force: true });
    mkdirSync(join(dir, 'elsewhere'));
    symlinkSync(join(dir, 'elsewhere'), join(path, '.pollpray'));
    const r = removePartialReleases(path, 'app');
    expect(r.removed).toEqual([]);
    expect(r.adopted).toEqual([]);
    expect(r.unusable).toBe(`${join(path, '.pollpray')} is not a directory of pollpray's own (a symlink, a file, or owned by another user)`);
    expect(readdirSync(join(path, 'releases'))).toHaveLength(1);
    const err = thrown(() => writeRecord(path, nameOf('130000', sha('d')), sha('d'), new Date(), 'app'));
    expect(err.hint).toBe(`remove it (rm -r ${join(path, '.pollpray')}); pollpray creates it and keeps its release records there`);
  });

  it('a record that is too big, or a directory, is not believed', () => {
    const { path, release } = app();
    const big = release('100000', sha('a'));
    const file = join(path, '.pollpray', 'releases', `${big}.json`);
    const valid = JSON.stringify({ version: 1, release: big, sha: sha('a'), completed: new Date().toISOString() });
    writeFileSync(file, valid + ' '.repeat(4096 - valid.length));
    expect(readRecord(path, big)).toBeDefined();
    writeFileSync(file, valid + ' '.repeat(4097 - valid.length));
    expect(readRecord(path, big)).toBeUndefined();
    rmSync(file);
    mkdirSync(file);
    expect(readRecord(path, big)).toBeUndefined();
  });

  it('removing a release removes its record first, and the release with everything in it', () => {
    const { path, release } = app();
    const name = release('100000', sha('a'));
    mkdirSync(join(path, 'releases', name, 'node_modules', 'x'), { recursive: true });
    writeFileSync(join(path, 'releases', name, 'node_modules', 'x', 'f'), '');
    removeRelease(path, name);
    expect(readdirSync(join(path, 'releases'))).toEqual([]);
    expect(readdirSync(join(path, '.pollpray', 'releases'))).toEqual([]);
    expect(listReleases(path)).toEqual([]);
  });

  it('listReleases is oldest first whatever the directory order; pruning keeps the newest whatever the input order', () => {
    const { path, release } = app();
    const c = release('120000', sha('c'));
    const a = release('100000', sha('a'));
    const b = release('110000', sha('b'));
    expect(listReleases(path).map((r) => r.name)).toEqual([a, b, c]);
    expect(releasesToPrune([b, c, a], 1, new Set())).toEqual([b, a]);
    expect(releasesToPrune([c, a, b], 2, new Set([a]))).toEqual([]);
  });
});

describe('records: where pollpray reads, writes and removes them', () => {
  const fds = () => readdirSync('/proc/self/fd').length;

  it('the records directory and each record are closed to other users (0750, 0640), and no descriptor is left open', () => {
    const { path, release } = app();
    const before = fds();
    for (const t of ['100000', '110000', '120000']) readRecord(path, release(t, sha('a')));
    expect(fds()).toBe(before);
    const mode = (p: string) => lstatSync(p).mode & 0o777;
    expect(mode(join(path, '.pollpray')) & ~0o750).toBe(0);
    expect(mode(join(path, '.pollpray', 'releases')) & ~0o750).toBe(0);
    expect(mode(join(path, '.pollpray', 'releases', `${nameOf('100000', sha('a'))}.json`)) & ~0o640).toBe(0);
  });

  it('a records directory that is a symlink (under a real .pollpray) is neither read, written nor removed from, and recovery removes nothing', () => {
    const { dir, path, release } = app();
    const name = release('100000', sha('a'));
    const partial = release('110000', sha('b'), false);
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    const records = join(path, '.pollpray', 'releases');
    for (const f of readdirSync(records)) writeFileSync(join(elsewhere, f), readFileSync(join(records, f)));
    rmSync(records, { recursive: true });
    symlinkSync(elsewhere, records);
    expect(readRecord(path, name)).toBeUndefined();
    expect(listReleases(path)).toEqual([]);
    removeRelease(path, name);
    expect(readdirSync(elsewhere)).toEqual([`${name}.json`]);
    expect(() => writeRecord(path, partial, sha('b'), new Date(), 'app')).toThrow(`${records} is not a directory of pollpray's own (a symlink, a file, or owned by another user)`);
    mkdirSync(join(path, 'releases', partial), { recursive: true });
    expect(removePartialReleases(path, 'app')).toEqual({ removed: [], adopted: [], unusable: `${records} is not a directory of pollpray's own (a symlink, a file, or owned by another user)` });
    expect(readdirSync(join(path, 'releases'))).toEqual([partial]);
  });

  it('removing a release through a .pollpray symlink leaves the record it points at', () => {
    const { dir, path, release } = app();
    const name = release('100000', sha('a'));
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(join(elsewhere, 'releases'), { recursive: true });
    writeFileSync(join(elsewhere, 'releases', `${name}.json`), readFileSync(join(path, '.pollpray', 'releases', `${name}.json`)));
    rmSync(join(path, '.pollpray'), { recursive: true });
    symlinkSync(elsewhere, join(path, '.pollpray'));
    removeRelease(path, name);
    expect(existsSync(join(path, 'releases', name))).toBe(false);
    expect(readdirSync(join(elsewhere, 'releases'))).toEqual([`${name}.json`]);
  });

  it.skipIf(requireRoot())('a .pollpray owned by another user is not pollpray\'s: nothing is read from or written into it', () => {
    const { path, release } = app();
    const name = release('100000', sha('a'));
    chownSync(join(path, '.pollpray'), 1000, 1000);
    expect(readRecord(path, name)).toBeUndefined();
    expect(() => writeRecord(path, name, sha('a'), new Date(), 'app')).toThrow(/\.pollpray is not a directory of pollpray's own/);
    expect(removePartialReleases(path, 'app').unusable).toMatch(/\.pollpray is not a directory of pollpray's own/);
  });

  it('a .pollpray without its releases/ (a run stopped between the two mkdirs): recovery creates nothing in it and removes the partial releases', () => {
    const { path } = app();
    const partial = nameOf('100000', sha('a'));
    mkdirSync(join(path, 'releases', partial), { recursive: true });
    mkdirSync(join(path, '.pollpray'));
    expect(removePartialReleases(path, 'app')).toEqual({ removed: [partial], adopted: [] });
    expect(readdirSync(join(path, '.pollpray'))).toEqual([]);
  });

  it('a .pollpray that is a file: no record is read or written, and the error says what to remove', () => {
    const { path, release } = app();
    const name = release('100000', sha('a'));
    rmSync(join(path, '.pollpray'), { recursive: true });
    writeFileSync(join(path, '.pollpray'), '');
    expect(readRecord(path, name)).toBeUndefined();
    const err = thrown(() => writeRecord(path, name, sha('a'), new Date(), 'app'));
    expect(err).toBeInstanceOf(EnvironmentError);
    expect(err.message).toBe(`${join(path, '.pollpray')} is not a directory of pollpray's own (a symlink, a file, or owned by another user)`);
  });

  it('removing a release that is already gone is not an error', () => {
    const { path, release } = app();
    const name = release('100000', sha('a'));
    removeRelease(path, name);
    expect(() => removeRelease(path, name)).not.toThrow();
  });

  it('without a releases directory recovery touches nothing, not even .pollpray', () => {
    const { path } = app();
    expect(removePartialReleases(path, 'app')).toEqual({ removed: [], adopted: [] });
    expect(readdirSync(path)).toEqual([]);
  });
});

describe('upgrading from markers inside releases', () => {
  const marker = (path: string, name: string, body: string) => writeFileSync(join(path, 'releases', name, '.pollpray-release'), body);

  it('without a current link nothing is adopted: every release could be an unfinished build', () => {
    const { path } = app();
    const name = nameOf('100000', sha('a'));
    mkdirSync(join(path, 'releases', name), { recursive: true });
    marker(path, name, JSON.stringify({ sha: sha('a') }));
    expect(removePartialReleases(path, 'app')).toEqual({ removed: [name], adopted: [] });
  });

  it('a marker that is not JSON, or whose sha is not a string, is not adopted; the others are', () => {
    const { path } = app();
    const good = nameOf('090000', sha('a'));
    const garbled = nameOf('100000', sha('b'));
    const listed = `20261123T110000.000Z-${'c'.repeat(40)}`;
    for (const n of [good, garbled, listed]) mkdirSync(join(path, 'releases', n), { recursive: true });
    marker(path, good, JSON.stringify({ sha: sha('a') }));
    marker(path, garbled, '{"sha": "bbbb');
    marker(path, listed, JSON.stringify({ sha: ['c'.repeat(40)] }));
    symlinkSync(join('releases', listed), join(path, 'current'));
    expect(removePartialReleases(path, 'app')).toEqual({ removed: [garbled], adopted: [good] });
  });
});

describe('switching current and linking shared: what the user is told', () => {
  it('a current that is not a symlink: the hint says how to move it away', () => {
    const { path } = app();
    mkdirSync(join(path, 'current'));
    const err = thrown(() => switchCurrent(path, 'r1', 'app'));
    expect(err).toBeInstanceOf(EnvironmentError);
    expect(err.message).toBe(`${join(path, 'current')} exists and is not a symlink, so it cannot be switched atomically`);
    expect(err.hint).toBe(`move it away (mv ${join(path, 'current')} ${join(path, 'current')}.old); pollpray manages current as a symlink into releases/`);
    expect((err as EnvironmentError).target).toBe('app');
  });

  it('a temp link left by a killed switch with this pid is replaced', () => {
    const { path, release } = app();
    const name = release('100000', sha('a'));
    symlinkSync('releases/elsewhere', join(path, `.current.tmp-${process.pid}`));
    switchCurrent(path, name, 'app');
    expect(readlinkSync(join(path, 'current'))).toBe(join('releases', name));
    expect(readdirSync(path).sort()).toEqual(['.pollpray', 'current', 'releases']);
  });

  it('a shared path out of the release, and a seeded link out of it: each hint says what to change', () => {
    const { dir, path, release } = app();
    const r1 = join(path, 'releases', release('100000', sha('a')));
    mkdirSync(join(dir, 'outside'));
    symlinkSync(join(dir, 'outside'), join(r1, 'var'));
    const out = thrown(() => linkShared(path, r1, ['var/uploads'], 'app'));
    expect(out.hint).toBe('replace the symlink on the way to var/uploads in the repository by a real directory (or remove var/uploads from shared), and push');
    expect((out as GitError).target).toBe('app');
    mkdirSync(join(r1, 'media'));
    symlinkSync('/etc', join(r1, 'media', 'etc'));
    const seeded = thrown(() => linkShared(path, r1, ['media'], 'app'));
    expect(seeded.message).toBe("shared path media: the commit's media/etc is a symlink to /etc, outside the release: pollpray does not seed shared/ with it");
    expect(seeded.hint).toBe(`make that link relative and inside the repository (or remove it) and push, or create ${join(path, 'shared', 'media')} yourself`);
    expect((seeded as GitError).target).toBe('app');
  });
});
