/** Faults of the machine pollpray runs on: disk full, a corrupt state file, an unwritable or full log dir (rows 20, 24, 25, 27). */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { requireRoot } from '../helpers/require-env.js';
import { makeSudoFixture, requireSudoFixture } from '../helpers/sudo-user.js';
import { makeUserWorld } from '../helpers/user-world.js';
import { expectOneLineError, expectState, faultWorld, releaseDirs, short } from './fault-world.js';

describe('disk and state faults', { timeout: 30_000 }, () => {
  it.skipIf(requireRoot())('#20 disk full: ENOSPC message, partial release removed, state kept (a 1 MB tmpfs)', async () => {
    const f = await faultWorld({ strategy: 'releases', target: { min_free_space: '1KB' } });
    mkdirSync(f.path, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', f.path]);
    onTestFinished(() => execFileSync('umount', [f.path]));
    const good = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const before = releaseDirs(f.path);
    // 3 MB of incompressible data: does not fit in what is left of the 1 MB filesystem.
    await f.origin.commit({ 'big.bin': randomBytes(3 * 1024 * 1024).toString('base64') }, 'Too big');
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', /no space left on device \(ENOSPC\) unpacking \w{12} into /);
    expect(releaseDirs(f.path)).toEqual(before);
    expect(f.live()).toBe(short(good));
    expectState(f.world, 'app', { deployedSha: good, lastResult: 'failed' });

    await f.origin.git(['rm', '-q', 'big.bin']);
    const fixed = await f.origin.commit({ 'v.txt': 'small again\n' }, 'Drop the big file');
    const again = await f.world.cli(['run']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(f.live()).toBe(short(fixed));
  });

  it('#24 truncated or corrupt state file: moved aside as .corrupt, deployed commit recovered from disk', async () => {
    const f = await faultWorld();
    const head = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const dir = join(f.world.stateDir, 'targets', 'app');
    truncateSync(join(dir, 'state.json'), 10);
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(dir).filter((n) => n.startsWith('state.json.corrupt'))).toHaveLength(1);
    expect(f.world.logText()).toMatch(/corrupt/);
    expectState(f.world, 'app', { deployedSha: head });
    expect(f.calls()).toHaveLength(1);
    expect(f.live()).toBe(short(head));

    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    expectState(f.world, 'app', { deployedSha: next, previousSha: head });
  });

  it.skipIf(requireSudoFixture())('#25 log dir not writable: clear error on stderr, no deploy without an audit trail (as an unprivileged user)', async () => {
    const sudo = await makeSudoFixture();
    const u = await makeUserWorld(sudo);
    mkdirSync(u.world.logDir, { recursive: true });
    await sudo.giveToUser(u.world.dir);
    chmodSync(u.world.logDir, 0o500);
    const r = await u.cli(['run']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`log directory ${u.world.logDir} is not writable.*\\(fix: .+\\)`));
    expect(existsSync(join(u.path, '.git'))).toBe(false);
    expect(await sudo.calls()).toEqual([]);

    chmodSync(u.world.logDir, 0o700);
    const ok = await u.cli(['run']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expectState(u.world, 'app', { deployedSha: u.head });
  });
});

/** A tmpfs of `size` mounted at `dir` for this test (root only; callers gate with requireRoot). */
function smallTmpfs(dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  onTestFinished(() => execFileSync('umount', [dir]));
}

/** Fills the filesystem holding `dir` until a write fails with ENOSPC. */
function fill(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w');
  try {
    const block = Buffer.alloc(4096, 1);
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

describe('log filesystem faults', { timeout: 30_000 }, () => {
  it.skipIf(requireRoot())('#27 log filesystem fills during the deploy script: the deploy completes, state is written, one stderr line names the log dir, logging goes on on stderr (a 64 KiB tmpfs)', async () => {
    // 4000 lines of output, each logged: far more than the 64 KiB log filesystem holds.
    const f = await faultWorld({ script: 'for i in $(seq 1 4000); do echo "building step $i of the new release"; done' });
    smallTmpfs(f.world.logDir, '64k');
    const head = await f.origin.head();
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(head));
    expectState(f.world, 'app', { deployedSha: head, lastResult: 'deployed' });
    expect(f.world.history('app')).toHaveLength(1);
    const notes = r.stderr.split('\n').filter((l) => l.includes(f.world.logDir));
    expect(notes, r.stderr).toHaveLength(1);
    expect(notes[0]).toMatch(/^pollpray: log directory \S+ is full \(ENOSPC\): logging to stderr from now on \(fix: free space in \S+ or point log\.dir elsewhere\)$/);
    // The rest of the run's log lines went to stderr instead.
    expect(r.stderr).toMatch(/building step 4000 of the new release/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it.skipIf(requireRoot())('#27 log filesystem already full at start-up: a degraded run, one stderr line, no stack trace; the deploy still happens', async () => {
    const f = await faultWorld();
    smallTmpfs(f.world.logDir, '64k');
    fill(f.world.logDir);
    const head = await f.origin.head();
    const r = await f.world.cli(['run']);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.exitCode, r.stderr).toBe(0);
    const notes = r.stderr.split('\n').filter((l) => l.includes(f.world.logDir));
    expect(notes, r.stderr).toHaveLength(1);
    expect(notes[0]).toMatch(/^pollpray: log directory \S+ is full \(ENOSPC\): logging to stderr from now on \(fix: /);
    expectState(f.world, 'app', { deployedSha: head });
    expect(f.live()).toBe(short(head));
  });
});
