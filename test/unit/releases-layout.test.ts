/**
 * The releases layout on disk (real directories, links and records in a temp dir):
 * shared paths linked into a release, recovery after a crash, pruning and removal.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { currentRelease, linkShared, listReleases, readRecord, releasesToPrune, removePartialReleases, removeRelease, switchCurrent, writeRecord } from '../../src/deploy/releases.js';
import { EnvironmentError, GitError } from '../../src/errors.js';

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
