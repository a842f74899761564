import { describe, expect, it } from 'vitest';
import { restartFailure } from '../../src/exec/sudo.js';

const systemd = { kind: 'systemd' as const, binary: '/usr/bin/systemctl' };
const supervisor = { kind: 'supervisorctl' as const, binary: '/usr/bin/supervisorctl' };
const opts = { manager: systemd, unit: 'app.service', target: 'app', user: 'pollpray', argv: ['sudo', '-n', '/usr/bin/systemctl', 'restart', 'app.service'] };
const failed = (stderr: string, extra: { timedOut?: boolean; spawnError?: string; exitCode?: number; stdout?: string; supervisor?: boolean } = {}) =>
  restartFailure(
    { exitCode: extra.exitCode ?? 1, stderr, stdout: extra.stdout ?? '', timedOut: extra.timedOut ?? false, spawnError: extra.spawnError },
    extra.supervisor ? { ...opts, manager: supervisor, unit: 'app' } : opts,
  );

describe('restartFailure: whose fault a failed restart is', () => {
  it.each([
    ['sudo missing', '', { spawnError: 'ENOENT' }, /sudo is not installed/],
    ['no sudo rule', 'sudo: a password is required', {}, /sudo refused to restart app\.service without a password/],
    ['sudoers requiretty (old RHEL/CentOS)', 'sudo: sorry, you must have a tty to run sudo', {}, /sudoers sets requiretty.*\(fix: add the line Defaults:pollpray !requiretty to a sudoers drop-in/],
    ['no systemd (container, WSL)', 'System has not been booted with systemd as init system (PID 1). Can\'t operate.\nFailed to connect to bus: Host is down', {}, /systemd is not running on this host/],
    ['unit missing', 'Failed to restart app.service: Unit app.service not found.', {}, /no such unit or program on this host/],
    ['supervisord not running', 'unix:///var/run/supervisor.sock no such file', { supervisor: true }, /the service manager does not answer/],
    ['supervisor program missing', '', { supervisor: true, stdout: 'app: ERROR (no such process)' }, /no such unit or program/],
  ])('%s is a host fault: not counted against the commit', (_name, stderr, extra, message) => {
    const e = failed(stderr, extra);
    expect(e?.fault).toBe('host');
    expect(e?.oneLine()).toMatch(message);
    expect(e?.hint).toBeTruthy();
  });

  it.each([
    ['the unit did not start', 'Job for app.service failed because the control process exited with error code.', {}],
    ['the unit hung', '', { timedOut: true }],
    ['the supervisor program exited at once', '', { supervisor: true, stdout: 'app: ERROR (spawn error)' }],
  ])('%s is the commit\'s fault', (_name, stderr, extra) => {
    expect(failed(stderr, extra)?.fault).toBe('commit');
  });

  it('a restart that worked is no failure', () => {
    expect(restartFailure({ exitCode: 0, stderr: '', stdout: '', timedOut: false, spawnError: undefined }, opts)).toBeUndefined();
  });
});
