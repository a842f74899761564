import { describe, expect, it } from 'vitest';
import { restartFailure } from '../../src/exec/sudo.js';

const opts = { systemctl: '/usr/bin/systemctl', unit: 'app.service', target: 'app', user: 'pollpray' };
const failed = (stderr: string, extra: { timedOut?: boolean; spawnError?: string; exitCode?: number } = {}) =>
  restartFailure({ exitCode: extra.exitCode ?? 1, stderr, timedOut: extra.timedOut ?? false, spawnError: extra.spawnError }, opts);

describe('restartFailure: whose fault a failed restart is', () => {
  it.each([
    ['sudo missing', '', { spawnError: 'ENOENT' }, /sudo is not installed/],
    ['no sudo rule', 'sudo: a password is required', {}, /sudo refused to restart app\.service without a password/],
    ['no systemd (container, WSL)', 'System has not been booted with systemd as init system (PID 1). Can\'t operate.\nFailed to connect to bus: Host is down', {}, /the service manager does not answer/],
    ['unit missing', 'Failed to restart app.service: Unit app.service not found.', {}, /no such unit on this host/],
  ])('%s is a host fault: not counted against the commit', (_name, stderr, extra, message) => {
    const e = failed(stderr, extra);
    expect(e?.fault).toBe('host');
    expect(e?.oneLine()).toMatch(message);
    expect(e?.hint).toBeTruthy();
  });

  it.each([
    ['the unit did not start', 'Job for app.service failed because the control process exited with error code.', {}],
    ['the unit hung', '', { timedOut: true }],
  ])('%s is the commit\'s fault', (_name, stderr, extra) => {
    expect(failed(stderr, extra)?.fault).toBe('commit');
  });

  it('a restart that worked is no failure', () => {
    expect(restartFailure({ exitCode: 0, stderr: '', timedOut: false, spawnError: undefined }, opts)).toBeUndefined();
  });
});
