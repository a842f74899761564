/**
 * Hosts without systemd: a real supervisord restarts the program, through real sudo with
 * the rule `pollpray sudoers` generated, as the unprivileged user.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BIN } from '../helpers/pollpray-cli.js';
import { makeSudoFixture, requireSudoFixture, SUDOERS_DIR, type SudoFixture } from '../helpers/sudo-user.js';
import { requireSupervisord, startSupervisord, type Supervisord } from '../helpers/supervisord.js';
import { makeUserWorld, type UserWorld } from '../helpers/user-world.js';

/** The user's world restarting `program` with supervisorctl, and the generated drop-in installed as root. */
async function supervisedWorld(sudo: SudoFixture, sv: Supervisord, program: string, opts: { install?: boolean } = {}): Promise<UserWorld> {
  const u = await makeUserWorld(sudo);
  await u.writeConfig({ restart: [program] }, { service_manager: 'supervisorctl', supervisorctl: sv.supervisorctl, supervisor_config: sv.config });
  // Only the generated rule may allow the restart: the fixture's own names its stub systemctl.
  await sudo.removeRule();
  if (opts.install !== false) {
    const dest = join(SUDOERS_DIR, `pollpray-test-${sudo.id}-supervisor`);
    onTestFinished(() => rmSync(dest, { force: true }));
    execFileSync('node', [BIN, '-c', u.world.configFile, 'sudoers', '--install', '--user', sudo.user, '--destination', dest], { encoding: 'utf8' });
  }
  return u;
}

describe.skipIf(requireSudoFixture() || requireSupervisord())('restart with supervisorctl (no systemd)', { timeout: 60_000 }, () => {
  it('the generated sudoers rule lets the unprivileged user restart the program: its PID changes, doctor is ok', async () => {
    const sudo = await makeSudoFixture();
    const sv = await startSupervisord(['app']);
    const u = await supervisedWorld(sudo, sv, 'app');

    const rule = await u.cli(['sudoers']);
    expect(rule.stdout).toContain(`pollpray-test ALL=(root) NOPASSWD: ${sv.supervisorctl} -c ${sv.config} restart app`);

    const before = await sv.pid('app');
    const r = await u.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    const after = await sv.pid('app');
    expect(after).toBeGreaterThan(0);
    expect(after).not.toBe(before);
    expect(u.world.logText()).toMatch(/\[app\] @\w+ restart: restarted app/);

    const doctor = await u.cli(['doctor']);
    expect(doctor.stdout).toMatch(/ok\s+sudo \(app\)\s+sudo -n \S+supervisorctl -c \S+ restart app is allowed without a password/);
    expect(doctor.stdout).toMatch(/ok\s+service manager\s+supervisord answers/);
    expect(doctor.stdout).toMatch(/ok\s+program \(app\)\s+supervisord knows app \(RUNNING\)/);
  });

  it('doctor fails for a program supervisord does not know, and the run says which program, with the fix', async () => {
    const sudo = await makeSudoFixture();
    const sv = await startSupervisord(['app']);
    const u = await supervisedWorld(sudo, sv, 'web');
    const doctor = await u.cli(['doctor']);
    expect(doctor.exitCode).toBe(1);
    expect(doctor.stdout).toMatch(/FAIL\s+program \(app\)\s+supervisord has no program web/);
    const r = await u.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/app: restart of web failed \(exit \d+\): web: ERROR \(no such process\)/);
    expect(r.stderr).toContain(`supervisorctl -c ${sv.config} status web`);
  });

  it('doctor fails when the pollpray user could change the supervisord config root reads', async () => {
    const sudo = await makeSudoFixture();
    const sv = await startSupervisord(['app']);
    const u = await supervisedWorld(sudo, sv, 'app');
    chmodSync(dirname(sv.config), 0o755); // like /etc/supervisor: anyone may look
    chownSync(sv.config, sudo.uid, sudo.gid);
    const doctor = await u.cli(['doctor']);
    expect(doctor.exitCode).toBe(1);
    expect(doctor.stdout).toContain(`${sv.config} (supervisor_config) can be changed by uid ${sudo.uid}, but sudo runs it as root (fix: chown root:root ${sv.config} && chmod go-w ${sv.config} (as root))`);
  });

  it('without the rule: fails at once and prints the supervisorctl line it needs; doctor says the same', async () => {
    const sudo = await makeSudoFixture();
    const sv = await startSupervisord(['app']);
    const u = await supervisedWorld(sudo, sv, 'app', { install: false });
    const needed = `pollpray-test ALL=(root) NOPASSWD: ${sv.supervisorctl} -c ${sv.config} restart app`;
    const doctor = await u.cli(['doctor']);
    expect(doctor.exitCode).toBe(1);
    expect(doctor.stdout).toMatch(/FAIL\s+sudo \(app\)\s+no sudo rule lets pollpray-test run sudo -n \S+supervisorctl -c \S+ restart app without a password/);
    const before = await sv.pid('app');
    const r = await u.cli(['run'], { timeoutMs: 15_000 });
    expect(r.exitCode).toBe(1);
    expect(r.durationMs).toBeLessThan(5_000);
    expect(r.stderr).toContain('sudo refused to restart app without a password');
    expect(r.stderr).toContain(needed);
    expect(await sv.pid('app')).toBe(before);
  });

  it('refuses all and a leading "-" as supervisord programs before sudo runs', async () => {
    const sudo = await makeSudoFixture();
    const sv = await startSupervisord(['app']);
    const u = await supervisedWorld(sudo, sv, 'app', { install: false });
    const before = await sv.pid('app');
    for (const [program, message] of [
      ['all', 'must be a supervisord program name like app or group:app (not all'],
      ['-c', 'must be a systemd unit name like app.service (or, with service_manager'],
    ] as const) {
      await u.writeConfig({ restart: [program] }, { service_manager: 'supervisorctl', supervisorctl: sv.supervisorctl, supervisor_config: sv.config });
      const r = await u.cli(['run']);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(`targets.app.restart[0]: ${message}`);
    }
    expect(await sv.pid('app')).toBe(before);
  });
});
