import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeSudoFixture, requireSudoFixture } from '../helpers/sudo-user.js';

describe.skipIf(requireSudoFixture())('makeSudoFixture', () => {
  it('lets the test user restart an allowed unit through sudo -n, and records the call', async () => {
    const sudo = await makeSudoFixture();
    expect(sudo.uid).toBeGreaterThan(0);
    const who = await sudo.runAs(['id', '-un']);
    expect(who.stdout).toBe('pollpray-test');

    const r = await sudo.runAs(['sudo', '-n', sudo.systemctl, 'restart', 'app.service']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await sudo.calls()).toEqual(['restart app.service']);
  });

  it('refuses a unit outside the rule without prompting', async () => {
    const sudo = await makeSudoFixture();
    const r = await sudo.runAs(['sudo', '-n', sudo.systemctl, 'restart', 'other.service'], { timeoutMs: 5_000 });
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/a password is required|not allowed/);
    expect(await sudo.calls()).toEqual([]);
  });

  it('fails in well under 5 s once the rule is removed, or lacks NOPASSWD', async () => {
    const sudo = await makeSudoFixture();
    await sudo.removeRule();
    const removed = await sudo.runAs(['sudo', '-n', sudo.systemctl, 'restart', 'app.service'], { timeoutMs: 5_000 });
    expect(removed.exitCode).toBe(1);
    expect(removed.durationMs).toBeLessThan(2_000);

    await sudo.ruleWithoutNopasswd();
    const prompted = await sudo.runAs(['sudo', '-n', sudo.systemctl, 'restart', 'app.service'], { timeoutMs: 5_000 });
    expect(prompted.exitCode).toBe(1);
    expect(prompted.stderr).toMatch(/a password is required/);
    expect(await sudo.calls()).toEqual([]);
  });

  it('setUnits replaces the allowed units; setStubExit makes the stub fail after recording', async () => {
    const sudo = await makeSudoFixture();
    await sudo.setUnits(['web.service', 'worker@1.service']);
    const run = (unit: string) => sudo.runAs(['sudo', '-n', sudo.systemctl, 'restart', unit]);
    expect((await run('app.service')).exitCode).toBe(1);
    expect((await run('worker@1.service')).exitCode).toBe(0);
    sudo.setStubExit(3);
    expect((await run('web.service')).exitCode).toBe(3);
    expect(await sudo.calls()).toEqual(['restart worker@1.service', 'restart web.service']);
  });

  it('the stub records nothing when run without sudo, and giveToUser hands a dir over', async () => {
    const sudo = await makeSudoFixture();
    const direct = await sudo.runAs([sudo.systemctl, 'restart', 'app.service']);
    expect(direct.exitCode).not.toBe(0);
    expect(await sudo.calls()).toEqual([]);

    const dir = mkdtempSync(join(tmpdir(), 'pollpray-sudo-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    await sudo.giveToUser(dir);
    expect(statSync(dir).uid).toBe(sudo.uid);
    expect((await sudo.runAs(['touch', join(dir, 'x')])).exitCode).toBe(0);
  });

  it('two fixtures at once do not see each other', async () => {
    const [a, b] = await Promise.all([makeSudoFixture(), makeSudoFixture()]);
    await b.removeRule();
    expect((await a.runAs(['sudo', '-n', a.systemctl, 'restart', 'app.service'])).exitCode).toBe(0);
    expect((await b.runAs(['sudo', '-n', b.systemctl, 'restart', 'app.service'])).exitCode).toBe(1);
    expect((await a.runAs(['sudo', '-n', b.systemctl, 'restart', 'app.service'])).exitCode).toBe(1);
    expect(await a.calls()).toEqual(['restart app.service']);
    expect(await b.calls()).toEqual([]);
  });
});
