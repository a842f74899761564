/** Faults of the machine pollpray runs on: disk full, a corrupt state file, an unwritable log dir (rows 20, 24, 25). */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { requireRoot } from '../helpers/require-env.js';
import { makeSudoFixture, requireSudoFixture } from '../helpers/sudo-user.js';
import { makeUserWorld } from '../helpers/user-world.js';
import { expectOneLineError, expectState, faultWorld, releaseDirs, short } from './fault-world.js';

describe('disk and state faults', { timeout: 30_000 }, () => {
  it.skipIf(requireRoot())('#20 disk full: ENOSPC message, partial release removed, state kept, not counted against the commit (a 1 MB tmpfs)', async () => {
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
    // A full disk is the host's fault: not counted against the commit.
    expectState(f.world, 'app', { deployedSha: good, lastResult: 'failed', failures: {} });
    expect(r.stderr).toMatch(/not counted against \w{12}/);

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

  it.skipIf(requireRoot())('#49 read-only state_dir: one line naming state_dir and the fix, not counted; after remounting read-write the next run deploys (no --force)', async () => {
    const f = await faultWorld();
    mkdirSync(f.world.stateDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', f.world.stateDir]);
    onTestFinished(() => execFileSync('umount', [f.world.stateDir]));
    const good = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    execFileSync('mount', ['-o', 'remount,ro', f.world.stateDir]);
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    const line = r.stderr.trim().split('\n').filter((l) => l.startsWith('pollpray: '));
    expect(line, r.stderr).toHaveLength(1);
    expect(line[0]).toMatch(new RegExp(`^pollpray: state_dir \\(${f.world.stateDir}\\): read-only file system \\(EROFS\\) .*\\(fix: .*remount it read-write, or set state_dir`));
    expect(r.stderr).not.toMatch(/internal error|bug in pollpray|log dir|test-ssh/);
    expect(f.live()).toBe(short(good));

    execFileSync('mount', ['-o', 'remount,rw', f.world.stateDir]);
    const again = await f.world.cli(['run']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
  });

  it.skipIf(requireSudoFixture())('#49 state_dir not writable by the user: names state_dir (not the log dir inside it); after the fix the next run deploys', async () => {
    const sudo = await makeSudoFixture();
    const u = await makeUserWorld(sudo);
    // The default layout for a user: the log dir inside the state dir.
    await u.writeConfig({}, { log: { dir: join(u.world.stateDir, 'log') } });
    mkdirSync(u.world.stateDir, { recursive: true });
    await sudo.giveToUser(u.world.dir);
    chmodSync(u.world.stateDir, 0o500);
    const r = await u.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`state_dir \\(${u.world.stateDir}\\): permission denied \\(EACCES\\).*\\(fix: .*${u.world.stateDir}.*or set state_dir`));
    expect(r.stderr).not.toMatch(/bug in pollpray|internal error/);

    chmodSync(u.world.stateDir, 0o700);
    const ok = await u.cli(['run']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expectState(u.world, 'app', { deployedSha: u.head });
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
