/** Faults in the privileged restart (rows 16 and 17 of the failure-modes table), with real sudo as an unprivileged user. */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, makeWorld } from '../helpers/pollpray-cli.js';
import { makeSudoFixture, requireSudoFixture } from '../helpers/sudo-user.js';
import { makeOrigin } from '../helpers/origin.js';
import { makeUserWorld } from '../helpers/user-world.js';
import { expectOneLineError, expectState } from './fault-world.js';

describe.skipIf(requireSudoFixture())('privilege faults', { timeout: 60_000 }, () => {
  it('#16 sudo rule missing / would prompt: fails at once with the sudoers line needed, not counted; the next run after the rule is added deploys (no --force)', async () => {
    const sudo = await makeSudoFixture();
    const u = await makeUserWorld(sudo);
    const needed = `pollpray-test ALL=(root) NOPASSWD: ${sudo.systemctl} restart app.service`;
    await sudo.removeRule();
    const missing = await u.cli(['run'], { timeoutMs: 15_000 });
    expect(missing.exitCode).toBe(1);
    expect(missing.durationMs).toBeLessThan(5_000);
    expectOneLineError(missing.stderr, 'app', /sudo refused to restart app\.service without a password/);
    expect(missing.stderr).toContain(needed);

    // A host fault: not counted against the commit, so the next run tries it again at once.
    expect(missing.stderr).toMatch(/not counted against \w{12}/);
    expectState(u.world, 'app', { failures: {} });
    await sudo.setUnits(['app.service']);
    await sudo.ruleWithoutNopasswd();
    const prompting = await u.cli(['run'], { timeoutMs: 15_000 });
    expect(prompting.exitCode).toBe(1);
    expect(prompting.durationMs).toBeLessThan(5_000);
    expect(prompting.stderr).toContain(needed);
    expect(await sudo.calls()).toEqual([]);
    expectState(u.world, 'app', { deployedSha: null, lastResult: 'failed' });

    // The rule is added: the next ordinary run deploys, no --force.
    await sudo.setUnits(['app.service']);
    const fixed = await u.cli(['run']);
    expect(fixed.exitCode, fixed.stderr).toBe(0);
    expect(await sudo.calls()).toEqual(['restart app.service']);
    expectState(u.world, 'app', { deployedSha: u.head, lastResult: 'deployed' });
  });

  it('#68 sudoers with requiretty (old RHEL/CentOS): the rule is there but sudo wants a terminal; run and doctor name `Defaults:<user> !requiretty`, not counted; the next run after the fix deploys', async () => {
    const sudo = await makeSudoFixture();
    const u = await makeUserWorld(sudo);
    await sudo.requireTty();
    const r = await u.cli(['run'], { timeoutMs: 15_000 });
    expect(r.exitCode).toBe(1);
    expect(r.durationMs).toBeLessThan(5_000);
    expectOneLineError(r.stderr, 'app', /sudo refused to restart app\.service: .*requiretty.*\(fix: .*Defaults:pollpray-test !requiretty/);
    // The rule the operator already has is not what is missing.
    expect(r.stderr).not.toMatch(/without a password|NOPASSWD/);
    expect(r.stderr).toMatch(/not counted against \w{12}/);
    expectState(u.world, 'app', { deployedSha: null, failures: {}, lastFault: 'host' });
    expect(await sudo.calls()).toEqual([]);

    const doctor = await u.cli(['doctor']);
    expect(doctor.exitCode, doctor.stdout).toBe(1);
    expect(doctor.stdout).toMatch(/^FAIL +sudo \(app\.service\) +.*requiretty.*\(fix: .*Defaults:pollpray-test !requiretty/m);

    // requiretty lifted: the next ordinary run deploys, no --force.
    await sudo.setUnits(['app.service']);
    const fixed = await u.cli(['run']);
    expect(fixed.exitCode, fixed.stderr).toBe(0);
    expect(await sudo.calls()).toEqual(['restart app.service']);
    expectState(u.world, 'app', { deployedSha: u.head, lastResult: 'deployed' });
  });

  it('#17 restart fails: current switched back to the previous release, restarted again, both failures reported, exit 1', async () => {
    const sudo = await makeSudoFixture();
    const u = await makeUserWorld(sudo, { strategy: 'releases', min_free_space: '1MB' });
    const first = await u.cli(['run']);
    expect(first.exitCode, first.stderr).toBe(0);
    const good = readlinkSync(join(u.path, 'current'));
    // root's git refuses a repo owned by another user: take the origin back to commit.
    execFileSync('chown', ['-R', '0:0', u.origin.dir]);
    const bad = await u.origin.commit({ 'v.txt': '2\n' }, 'v2');
    await sudo.giveToUser(u.origin.dir);
    sudo.setStubExit(1);
    const r = await u.cli(['run']);
    expect(r.exitCode).toBe(1);
    // The stub keeps failing, so the rollback's own restart fails too: both are reported.
    expectOneLineError(r.stderr, 'app', /restart/);
    expect(readlinkSync(join(u.path, 'current'))).toBe(good);
    expect(await sudo.calls()).toEqual(['restart app.service', 'restart app.service', 'restart app.service']);
    expect(r.stderr).toMatch(/restart of app\.service failed \(exit 1\); rollback to \w{12} failed too: restart of app\.service failed/);
    expectState(u.world, 'app', { deployedSha: u.head, remoteSha: bad, lastResult: 'failed' });

    sudo.setStubExit(0);
    const again = await u.cli(['run', '--force']);
    expect(again.exitCode, again.stderr).toBe(0);
    expectState(u.world, 'app', { deployedSha: bad, lastResult: 'deployed' });
  });

  it('#47 run as the wrong user (root against the user\'s checkout): stops before any write, exit 3, names the owner and the command; nothing moved or counted', async () => {
    const sudo = await makeSudoFixture();
    const u = await makeUserWorld(sudo);
    expect((await u.cli(['run'])).exitCode).toBe(0);
    // root's git refuses a repo owned by another user: take the origin back to commit.
    execFileSync('chown', ['-R', '0:0', u.origin.dir]);
    const next = await u.origin.commit({ 'v.txt': '2\n' }, 'v2');
    await sudo.giveToUser(u.origin.dir);
    const before = snapshot(u.world.dir);

    // `sudo pollpray run`: root, same config, the user's checkout, state and logs.
    const r = await u.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(3);
    // The user's config is the first thing of theirs root meets (src/config/load.ts): stopped before it is even read.
    expect(r.stderr.trim()).toMatch(new RegExp(`^pollpray: config ${u.world.configFile} lies in a directory owned by pollpray-test, not root: stopped before reading it`));
    expect(r.stderr).toMatch(/\(fix: run it as pollpray-test: sudo -u pollpray-test pollpray run\)$/m);
    // Not a byte changed: no .git moved aside, nothing root-owned left behind, nothing counted.
    expect(snapshot(u.world.dir)).toEqual(before);
    expect(statSync(join(u.path, '.git')).uid).toBe(sudo.uid);
    expectState(u.world, 'app', { deployedSha: u.head, failures: {} });

    const ok = await u.cli(['run']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expectState(u.world, 'app', { deployedSha: next, lastResult: 'deployed' });
  });

  it('#47 run as the wrong user (the user against root\'s checkout, or another user\'s file:// origin): exit 3 with the chown; the next run after it deploys', async () => {
    const sudo = await makeSudoFixture();
    // A first run as root left the checkout root-owned; the config, state and logs are the user's.
    const origin = await makeOrigin();
    const world = makeWorld();
    const path = join(world.dir, 'www', 'app');
    world.writeConfig({ systemctl: sudo.systemctl, targets: { app: { repo: origin.url, path } } });
    expect((await world.cli(['run'])).exitCode).toBe(0);
    await sudo.giveToUser(world.dir);
    execFileSync('chown', ['-R', '0:0', path]);
    const asUser = () => sudo.runAs(['node', BIN, 'run'], { cwd: world.dir, env: { POLLPRAY_CONFIG: world.configFile, GIT_CONFIG_NOSYSTEM: '1' } });

    const r = await asUser();
    expect(r.exitCode, r.stderr).toBe(3);
    expectOneLineError(r.stderr, 'app', new RegExp(`checkout ${path} \\(targets\\.app\\.path\\) is owned by root, not pollpray-test`));
    expect(r.stderr).toContain(`(fix: give it back to pollpray-test: sudo chown -R pollpray-test ${path} (a run as root left it))`);

    await sudo.giveToUser(path);
    // The origin is root's (its temp dir the user may enter): git would refuse it
    // ("ls-remote failed: and the repository exists.").
    chownSync(origin.dir, sudo.uid, sudo.gid);
    const o = await asUser();
    expect(o.exitCode, o.stderr).toBe(3);
    expectOneLineError(o.stderr, 'app', new RegExp(`origin ${origin.bare} \\(targets\\.app\\.repo\\) is owned by root, not pollpray-test`));
    expect(o.stderr).not.toMatch(/repository exists|bug in pollpray/);

    await sudo.giveToUser(origin.dir);
    const ok = await asUser();
    expect(ok.exitCode, ok.stderr).toBe(0);
  });
});


describe.skipIf(requireSudoFixture())('host faults in the target path', { timeout: 60_000 }, () => {
  it('#50 a directory in the checkout the user cannot write (left by a deploy as root): one line naming targets.<name>.path and the chown, not counted; after the chown the next run deploys', async () => {
    const sudo = await makeSudoFixture();
    const u = await makeUserWorld(sudo);
    execFileSync('chown', ['-R', '0:0', u.origin.dir]);
    await u.origin.commit({ 'sub/a.txt': '1\n' }, 'sub');
    await sudo.giveToUser(u.origin.dir);
    expect((await u.cli(['run'])).exitCode).toBe(0);
    const sub = join(u.path, 'sub');
    execFileSync('chown', ['-R', '0:0', sub]);
    execFileSync('chown', ['-R', '0:0', u.origin.dir]);
    const next = await u.origin.commit({ 'sub/a.txt': '2\n', 'sub/b.txt': 'new\n' }, 'v2');
    await sudo.giveToUser(u.origin.dir);

    const r = await u.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', new RegExp(`targets\\.app\\.path \\(${u.path}\\): permission denied \\(EACCES\\) .*not counted against \\w{12}`));
    expect(r.stderr).toMatch(new RegExp(`\\(fix: ${sub} belongs to root: give it to pollpray-test \\(as root: chown -R pollpray-test ${sub}\\)`));
    expect(r.stderr).not.toMatch(/bug in pollpray|internal error|test-ssh/);
    expectState(u.world, 'app', { failures: {} });

    await sudo.giveToUser(sub);
    const ok = await u.cli(['run']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expectState(u.world, 'app', { deployedSha: next, lastResult: 'deployed' });
  });
});

/** Every path under `dir` with its owner, mode and size: what a run that writes nothing must leave as it was. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((rel) => join(dir, rel))
    .filter((p) => existsSync(p))
    .map((p) => {
      const st = statSync(p);
      return `${p} ${st.uid} ${st.mode.toString(8)} ${st.isDirectory() ? '' : `${st.size} ${st.mtimeMs}`}`;
    })
    .sort();
}
