import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeOrigin } from '../helpers/origin.js';
import { BIN, makeWorld } from '../helpers/pollpray-cli.js';
import { makeSudoFixture, requireSudoFixture, STUB_ROOT, SUDOERS_DIR } from '../helpers/sudo-user.js';
import { requireSupervisord, startSupervisord } from '../helpers/supervisord.js';
import { makeUserWorld } from '../helpers/user-world.js';
import { expectOneLineError, expectState } from './fault-world.js';

const mode = (p: string) => (lstatSync(p).mode & 0o7777).toString(8);

/** Faults of the host's set-up (README "Set up a real target"), rows 41 and up of the failure-modes table. */
describe('host set-up faults', { timeout: 60_000 }, () => {
  it('#41 permissive umask or a run as root: a release has 0644 files and 0755 directories, never group-writable ones', async () => {
    const origin = await makeOrigin();
    await origin.commit({ 'app/views.py': 'print(1)\n', 'static/site.css': 'body{}\n', 'bin/manage': '#!/bin/sh\n' }, 'App files', { executable: ['bin/manage'] });
    const world = makeWorld();
    const path = join(world.dir, 'www', 'app');
    world.writeConfig({ targets: { app: { repo: origin.url, path, strategy: 'releases' } } });
    // The caller's umask must not decide the modes: run pollpray under a permissive one.
    const r = await execa('/bin/sh', ['-c', 'umask 002 && exec "$@"', 'sh', 'node', BIN, 'run'], {
      cwd: world.dir,
      env: { ...process.env, ...world.env },
      reject: false,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const [release] = readdirSync(join(path, 'releases'));
    const dir = join(path, 'releases', release ?? '');
    expect({
      release: mode(dir),
      appDir: mode(join(dir, 'app')),
      file: mode(join(dir, 'app', 'views.py')),
      css: mode(join(dir, 'static', 'site.css')),
      executable: mode(join(dir, 'bin', 'manage')),
    }).toEqual({ release: '755', appDir: '755', file: '644', css: '644', executable: '755' });
  });
});

/** What systemctl says in a container, on WSL or under OpenRC: PID 1 is not systemd. */
const NO_BUS = "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down";

describe.skipIf(requireSudoFixture() || requireSupervisord())('host set-up faults, as the unprivileged user', { timeout: 90_000 }, () => {
  it('#42 no systemd on the host: doctor fails first, the run names the cause and service_manager; with supervisorctl the next run deploys', async () => {
    const sudo = await makeSudoFixture();
    // A root-owned systemctl that answers like one on a host without systemd (swept with the fixture's id).
    const stubDir = join(STUB_ROOT, `${sudo.id}-nobus`);
    mkdirSync(stubDir, { recursive: true, mode: 0o755 });
    onTestFinished(() => rmSync(stubDir, { recursive: true, force: true }));
    const systemctl = join(stubDir, 'systemctl');
    writeFileSync(systemctl, `#!/bin/sh\n[ "$1" = is-system-running ] && echo offline\nprintf '%s\\n' "${NO_BUS}" >&2\nexit 1\n`);
    chmodSync(systemctl, 0o755);
    const u = await makeUserWorld(sudo);
    await u.writeConfig({}, { systemctl });
    const dest = join(SUDOERS_DIR, `pollpray-test-${sudo.id}-hostfault`);
    onTestFinished(() => rmSync(dest, { force: true }));
    const install = () => execFileSync('node', [BIN, '-c', u.world.configFile, 'sudoers', '--install', '--user', sudo.user, '--destination', dest]);
    install();

    const doctor = await u.cli(['doctor']);
    expect(doctor.exitCode).toBe(1);
    expect(doctor.stdout).toMatch(/FAIL\s+service manager\s+systemd is not running on this host .*offline.* \(fix: set service_manager: service \(SysV\/OpenRC\) or supervisorctl/);

    const r = await u.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', /systemd is not running on this host, so app\.service cannot be restarted with systemctl; not counted against \w{12}: the next run deploys it once this is fixed \(fix: set service_manager: service \(SysV\/OpenRC\) or supervisorctl/);
    // A host fault: not counted, so the fixed host deploys on the next ordinary run.
    expectState(u.world, 'app', { deployedSha: null, lastResult: 'failed', failures: {} });

    // The fix the message names: supervisord restarts the program, with a regenerated rule.
    const sv = await startSupervisord(['app']);
    await u.writeConfig({ restart: ['app'] }, { service_manager: 'supervisorctl', supervisorctl: sv.supervisorctl, supervisor_config: sv.config });
    install();
    const before = await sv.pid('app');
    const fixed = await u.cli(['run']);
    expect(fixed.exitCode, fixed.stderr).toBe(0);
    expect(await sv.pid('app')).not.toBe(before);
    expectState(u.world, 'app', { deployedSha: u.head, lastResult: 'deployed' });
  });
});
