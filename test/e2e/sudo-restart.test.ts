import { describe, expect, it } from 'vitest';
import { makeSudoFixture, requireSudoFixture } from '../helpers/sudo-user.js';
import { makeUserWorld } from '../helpers/user-world.js';

describe.skipIf(requireSudoFixture())('restart through sudo, as an unprivileged user', () => {
  it('restarts an allowlisted unit with sudo -n after the deploy', async () => {
    const sudo = await makeSudoFixture();
    const { world, head, cli } = await makeUserWorld(sudo);
    const r = await cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(await sudo.calls()).toEqual(['restart app.service']);
    expect(world.state('app')).toMatchObject({ deployedSha: head, lastResult: 'deployed' });
    expect(world.logText()).toMatch(/\[app\] @\w+ restart: restarted app\.service/);
  });

  it('refuses a restart entry that is not a plain unit name before sudo is ever called', async () => {
    const sudo = await makeSudoFixture();
    const { world, cli, writeConfig } = await makeUserWorld(sudo);
    for (const unit of ['app.service --now', '*.service', 'app.service;reboot']) {
      await writeConfig({ restart: [unit] });
      const r = await cli(['run']);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/targets\.app\.restart\[0\]: must be a systemd unit name/);
    }
    expect(await sudo.calls()).toEqual([]);
    expect(world.state('app')).toBeUndefined();
  });

  it('without a sudoers rule fails in well under 5 s and prints the line that would allow it', async () => {
    const sudo = await makeSudoFixture();
    const { world, cli } = await makeUserWorld(sudo);
    await sudo.removeRule();
    const r = await cli(['run'], { timeoutMs: 15_000 });
    expect(r.exitCode).toBe(1);
    expect(r.durationMs).toBeLessThan(5_000);
    expect(r.stderr).toContain('app: sudo refused to restart app.service without a password');
    expect(r.stderr).toContain(`pollpray-test ALL=(root) NOPASSWD: ${sudo.systemctl} restart app.service`);
    expect(await sudo.calls()).toEqual([]);
    expect(world.state('app')).toMatchObject({ lastResult: 'failed', deployedSha: null });
  });

  it('a rule without NOPASSWD fails the same way instead of waiting for a password', async () => {
    const sudo = await makeSudoFixture();
    const { cli } = await makeUserWorld(sudo);
    await sudo.ruleWithoutNopasswd();
    const r = await cli(['run'], { timeoutMs: 15_000 });
    expect(r.exitCode).toBe(1);
    expect(r.durationMs).toBeLessThan(5_000);
    expect(r.stderr).toContain('sudo refused to restart app.service without a password');
    expect(await sudo.calls()).toEqual([]);
  });
});
