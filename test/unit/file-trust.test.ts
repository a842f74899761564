/**
 * The one rule for files pollpray runs or reads (src/config/file-trust.ts): only root
 * and the running user may be able to change the file or any directory or link on
 * its way; a sticky directory like /tmp is fine for entries that are root's or ours.
 */
import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { trustProblem } from '../../src/config/file-trust.js';
import { isRoot, requireRoot } from '../helpers/require-env.js';

const me = { uid: process.getuid?.() ?? 0, user: 'me' };
const NOBODY = 65534;

function tempDir(): string {
  // Under /tmp: sticky and world-writable, as in every test run.
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-trust-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function file(path: string, mode = 0o755): string {
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, mode);
  return path;
}

const check = (path: string) => trustProblem(path, me, 'run commands as me');

describe('file trust', () => {
  it('a file of mine in a private directory under sticky /tmp is trusted', () => {
    const dir = tempDir();
    expect(check(file(join(dir, 'deploy.sh')))).toBeUndefined();
  });

  it('a file that does not exist is no question of trust', () => {
    expect(check(join(tempDir(), 'missing', 'deploy.sh'))).toBeUndefined();
  });

  it.each([
    [0o757, 'world-writable', 'o-w'],
    [0o775, 'group-writable', 'g-w'],
    [0o777, 'group- and world-writable', 'go-w'],
  ] as const)('a file of mode %o is refused: %s, fixed by chmod %s', (mode, what, chmod) => {
    const path = file(join(tempDir(), 'deploy.sh'), mode);
    expect(check(path)).toEqual({
      message: `${path} is ${what} (mode 0${mode.toString(8)}): any ${chmod === 'g-w' ? 'member of its group' : 'local user'} could change it and run commands as me`,
      fix: `chmod ${chmod} ${path}`,
      at: 'file',
    });
  });

  it('a file in a directory others can write (no sticky bit) is refused, naming the directory', () => {
    const dir = join(tempDir(), 'shared');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const path = file(join(dir, 'deploy.sh'));
    expect(check(path)).toMatchObject({ message: expect.stringContaining(`is in ${dir}, which is group- and world-writable (mode 0777)`), fix: `chmod go-w ${dir}`, at: 'path' });
  });

  it.skipIf(requireRoot())('rootGroupOnTheWay (the state and log dirs): a root-owned group-writable directory on the way is accepted, a world-writable one or the directory itself still refused', () => {
    const varLog = join(tempDir(), 'var-log');
    const logDir = join(varLog, 'pollpray');
    mkdirSync(logDir, { recursive: true });
    chmodSync(varLog, 0o775);
    const opts = { rootGroupOnTheWay: true };
    expect(trustProblem(logDir, me, 'x')).toMatchObject({ fix: `chmod g-w ${varLog}` });
    expect(trustProblem(logDir, me, 'x', opts)).toBeUndefined();
    chmodSync(logDir, 0o770);
    expect(trustProblem(logDir, me, 'x', opts)).toMatchObject({ message: `${logDir} is group-writable (mode 0770): any member of its group could write in it and x`, at: 'file' });
    chmodSync(logDir, 0o750);
    chmodSync(varLog, 0o777);
    expect(trustProblem(logDir, me, 'x', opts)).toMatchObject({ fix: `chmod go-w ${varLog}` });
    chmodSync(varLog, 0o775);
    chownSync(varLog, NOBODY, 0);
    expect(trustProblem(logDir, me, 'x', opts)).toMatchObject({ at: 'path', owner: NOBODY });
  });

  it('a file of mine in a sticky world-writable directory is trusted (as /tmp itself)', () => {
    const dir = join(tempDir(), 'sticky');
    mkdirSync(dir);
    chmodSync(dir, 0o1777);
    expect(check(file(join(dir, 'deploy.sh')))).toBeUndefined();
  });

  it('a symlink in a world-writable directory is refused even when it leads somewhere safe', () => {
    const base = tempDir();
    const safe = file(join(base, 'deploy.sh'));
    const open = join(base, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    symlinkSync(safe, join(open, 'deploy.sh'));
    expect(check(join(open, 'deploy.sh'))?.message).toMatch(new RegExp(`is in ${open}, which is group- and world-writable`));
  });

  it('a symlink from a safe place into a world-writable directory is refused, naming where it really is', () => {
    const base = tempDir();
    const open = join(base, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const real = file(join(open, 'deploy.sh'));
    symlinkSync(real, join(base, 'deploy.sh'));
    expect(check(join(base, 'deploy.sh'))?.message).toMatch(new RegExp(`is in ${open}, which is group- and world-writable`));
    // A relative link and a chain of two resolve the same way.
    symlinkSync('open/deploy.sh', join(base, 'rel.sh'));
    symlinkSync(join(base, 'rel.sh'), join(base, 'chain.sh'));
    expect(check(join(base, 'chain.sh'))?.fix).toBe(`chmod go-w ${open}`);
  });

  it('a symlink loop is left to whoever opens the file (ELOOP)', () => {
    const base = tempDir();
    symlinkSync(join(base, 'b'), join(base, 'a'));
    symlinkSync(join(base, 'a'), join(base, 'b'));
    expect(check(join(base, 'a'))).toBeUndefined();
  });

  describe.skipIf(!isRoot())('owned by another unprivileged user (root only: chown)', () => {
    it('a file owned by another user is refused with the chown that fixes it', () => {
      const path = file(join(tempDir(), 'deploy.sh'));
      chownSync(path, NOBODY, NOBODY);
      expect(check(path)).toMatchObject({ message: expect.stringMatching(/is owned by uid 65534, not by root or me who runs pollpray/), fix: `chown me ${path} (as root)` });
    });

    it('a directory on the way owned by another user is refused', () => {
      const dir = join(tempDir(), 'theirs');
      mkdirSync(dir);
      chownSync(dir, NOBODY, NOBODY);
      const path = file(join(dir, 'deploy.sh'));
      expect(check(path)).toMatchObject({ message: expect.stringContaining(`is in ${dir}, owned by uid 65534 (not root or me)`), at: 'path' });
    });

    it("another user's file or symlink in a sticky directory is refused: the sticky bit protects only root's and mine", () => {
      const dir = join(tempDir(), 'sticky');
      mkdirSync(dir);
      chmodSync(dir, 0o1777);
      const theirs = file(join(dir, 'theirs.sh'));
      chownSync(theirs, NOBODY, NOBODY);
      expect(check(theirs)?.message).toMatch(new RegExp(`theirs\\.sh is owned by uid 65534 in ${dir} \\(mode 1777\\), which others can write`));
      const mine = file(join(tempDir(), 'deploy.sh'));
      symlinkSync(mine, join(dir, 'link.sh'));
      lchownSync(join(dir, 'link.sh'), NOBODY, NOBODY);
      expect(check(mine)).toBeUndefined();
      expect(check(join(dir, 'link.sh'))).toMatchObject({ message: expect.stringMatching(/link\.sh \(really \S+deploy\.sh\)|link\.sh is owned by uid 65534/), at: 'path' });
    });

    it("root's file is trusted by an unprivileged runner", () => {
      const dir = tempDir();
      chmodSync(dir, 0o755);
      const path = file(join(dir, 'deploy.sh'));
      expect(trustProblem(path, { uid: NOBODY, user: 'nobody' }, 'x')).toBeUndefined();
    });
  });
});
