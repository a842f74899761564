/** Faults in the privileged restart (rows 16 and 17 of the failure-modes table), with real sudo as an unprivileged user. */
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeSudoFixture, requireSudoFixture } from '../helpers/sudo-user.js';
import { makeUserWorld } from '../helpers/user-world.js';
import { expectOneLineError, expectState } from './fault-world.js';

describe.skipIf(requireSudoFixture())('privilege faults', { timeout: 60_000 }, () => {
  it('#16 sudo rule missing / would prompt: fails at once with the sudoers line needed, recovers once the rule is back', async () => {
    const sudo = await makeSudoFixture();
    const u = await makeUserWorld(sudo);
    const needed = `pollpray-test ALL=(root) NOPASSWD: ${sudo.systemctl} restart app.service`;
    await sudo.removeRule();
    const missing = await u.cli(['run'], { timeoutMs: 15_000 });
    expect(missing.exitCode).toBe(1);
    expect(missing.durationMs).toBeLessThan(5_000);
    expectOneLineError(missing.stderr, 'app', /sudo refused to restart app\.service without a password/);
    expect(missing.stderr).toContain(needed);

    await sudo.setUnits(['app.service']);
    await sudo.ruleWithoutNopasswd();
    const prompting = await u.cli(['run', '--force'], { timeoutMs: 15_000 });
    expect(prompting.exitCode).toBe(1);
    expect(prompting.durationMs).toBeLessThan(5_000);
    expect(prompting.stderr).toContain(needed);
    expect(await sudo.calls()).toEqual([]);
    expectState(u.world, 'app', { deployedSha: null, lastResult: 'failed' });

    await sudo.setUnits(['app.service']);
    const fixed = await u.cli(['run', '--force']);
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
});
