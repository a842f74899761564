/**
 * Hosts without systemd, SysV/OpenRC style: `service <name> restart` runs the init script
 * in /etc/init.d, through real sudo with the rule `pollpray sudoers` generated, as the
 * unprivileged user. The init script is the test's own (unique name, removed after).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BIN } from '../helpers/pollpray-cli.js';
import { needs, findBinary } from '../helpers/require-env.js';
import { makeSudoFixture, requireSudoFixture, SUDOERS_DIR, CALLS_ROOT } from '../helpers/sudo-user.js';
import { makeUserWorld } from '../helpers/user-world.js';

const SERVICE = findBinary('service');
/**
 * With systemd as PID 1, Debian's service turns "restart" into systemctl, so the init
 * script path exists only on a host without it (CI's machine). Through needs(): a CI
 * machine that runs systemd fails this file instead of dropping it silently.
 */
const systemdRunsThisHost = (): boolean =>
  needs('a host without systemd', !existsSync('/run/systemd/system'), 'systemd runs this host, so service <name> restart would call systemctl');

describe.skipIf(requireSudoFixture() || needs('service', SERVICE !== undefined, 'the service command (init-system-helpers) is missing') || systemdRunsThisHost())(
  'restart with service (SysV/OpenRC, no systemd)',
  { timeout: 60_000 },
  () => {
    it('the generated rule lets the unprivileged user run service <name> restart: the init script runs, as root; doctor knows it', async () => {
      const sudo = await makeSudoFixture();
      const name = `pollpray-test-${sudo.id}`;
      const script = join('/etc/init.d', name);
      const log = join(CALLS_ROOT, `${sudo.id}-service.log`);
      onTestFinished(() => {
        rmSync(script, { force: true });
        rmSync(log, { force: true });
      });
      writeFileSync(script, `#!/bin/sh\necho "$1 $(id -u)" >> ${log}\n`);
      chmodSync(script, 0o755);

      const u = await makeUserWorld(sudo);
      await u.writeConfig({ restart: [name] }, { service_manager: 'service', service: SERVICE });
      await sudo.removeRule();
      const dest = join(SUDOERS_DIR, `pollpray-test-${sudo.id}-service`);
      onTestFinished(() => rmSync(dest, { force: true }));
      execFileSync('node', [BIN, '-c', u.world.configFile, 'sudoers', '--install', '--user', sudo.user, '--destination', dest]);

      const r = await u.cli(['run']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(readFileSync(log, 'utf8')).toBe('restart 0\n');
      expect(u.world.logText()).toContain(`restart: restarted ${name}`);

      const doctor = await u.cli(['doctor']);
      expect(doctor.stdout).toMatch(new RegExp(`ok\\s+sudo \\(${name}\\)\\s+sudo -n ${SERVICE} ${name} restart is allowed without a password`));
      expect(doctor.stdout).toMatch(new RegExp(`ok\\s+service \\(app\\)\\s+${script} exists`));

      rmSync(script);
      const gone = await u.cli(['doctor']);
      expect(gone.exitCode).toBe(1);
      expect(gone.stdout).toMatch(new RegExp(`FAIL\\s+service \\(app\\)\\s+${script} does not exist, so service ${name} restart fails`));
    });
  },
);
