import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/normalise.js';
import { EnvironmentError } from '../../src/errors.js';
import { fsFault } from '../../src/host/fs-fault.js';
import { keyOfPath, pathKeys, registerPathKeys } from '../../src/host/path-keys.js';

const base = mkdtempSync(join(tmpdir(), 'pp-fsfault-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const stateDir = join(base, 'state');
const config = {
  stateDir,
  log: { dir: join(stateDir, 'log') },
  targets: [{ name: 'app', path: join(base, 'www', 'app'), deploy: join(base, 'deploy.sh'), ssh: { knownHosts: join(stateDir, 'known_hosts') } }],
} as unknown as Config;
registerPathKeys(config);
mkdirSync(stateDir, { recursive: true });
const errno = (code: string, path: string, syscall = 'mkdir') => Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, path, syscall });

describe('keyOfPath: the config key that owns a path', () => {
  it.each([
    [join(stateDir, 'targets', 'app', 'state.json'), 'state_dir'],
    [join(stateDir, 'log', 'pollpray-2026-01-01.log'), 'log.dir'],
    [join(base, 'www', 'app', '.git', 'HEAD'), 'targets.app.path'],
    [join(base, 'deploy.sh'), 'targets.app.deploy'],
    [join(base, 'www'), undefined],
  ])('%s → %s', (path, key) => {
    expect(keyOfPath(path, pathKeys(config))?.key).toBe(key);
  });
});

describe('fsFault: filesystem errors are host faults that name the key to fix', () => {
  it('EROFS on the state dir names state_dir and says read-only, never a bug', () => {
    const e = fsFault(errno('EROFS', join(stateDir, 'ssh')));
    expect(e).toBeInstanceOf(EnvironmentError);
    expect(e?.fault).toBe('host');
    expect(e?.oneLine()).toMatch(/^state_dir \(.+\/state\): read-only file system \(EROFS\) on .+\/ssh \(fix: .*read-only filesystem: remount it read-write, or set state_dir/);
    expect(e?.oneLine()).not.toMatch(/bug/);
  });

  it('a recursive mkdir\'s ENOENT under a missing parent names the directory, with the target', () => {
    const e = fsFault(errno('ENOENT', join(base, 'www', 'app', 'x')), 'app');
    expect(e?.target).toBe('app');
    expect(e?.oneLine()).toMatch(/app: .*\(ENOENT\)|app: .*\((EACCES|EROFS)\)/);
    expect(e?.hint).toMatch(new RegExp(`create ${join(base, 'www', 'app')}`));
  });

  it('ENOSPC says to free space on that filesystem', () => {
    expect(fsFault(errno('ENOSPC', join(stateDir, 'targets', 'app', 'state.json'), 'write'))?.hint).toMatch(/free space on the filesystem holding/);
  });

  it.runIf(process.getuid?.() === 0)('EACCES on a directory another user owns names the owner and the chown', () => {
    const theirs = join(base, 'theirs');
    mkdirSync(theirs);
    chownSync(theirs, 65534, 65534);
    const e = fsFault(errno('EACCES', join(theirs, 'file'), 'open'));
    expect(e?.hint).toMatch(new RegExp(`${theirs} belongs to \\S+: give it to root \\(as root: chown -R root ${theirs}\\)`));
  });

  it('a missing file in an existing directory, or a non-fs error, stays unclassified (a real bug)', () => {
    expect(fsFault(errno('ENOENT', join(stateDir, 'nothing-here'), 'open'))).toBeUndefined();
    expect(fsFault(new TypeError('x is undefined'))).toBeUndefined();
  });
});
