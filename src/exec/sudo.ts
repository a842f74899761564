/**
 * The only privileged act: `sudo -n <systemctl> restart <unit>` for a unit on the
 * target's allowlist. `-n` makes sudo fail at once instead of prompting, so an
 * unattended run can never hang on a password.
 */
import { isAbsolute } from 'node:path';
import { UNIT_NAME_PATTERN } from '../config/schema.js';
import { SudoError } from '../errors.js';
import { run, type RunResult } from './run.js';

/**
 * sudo's messages are matched below, so they must be in English whatever the host's
 * locale; and stdin is never a terminal (run() ignores it), so nothing can prompt.
 */
const SUDO_ENV = { LC_ALL: 'C', LANG: 'C', LANGUAGE: undefined };

/** The exact argv for restarting `unit`; anything not on the allowlist is refused before sudo runs. */
export function restartArgv(systemctl: string, unit: string, allowlist: readonly string[], target: string): string[] {
  if (!allowlist.includes(unit) || !UNIT_NAME_PATTERN.test(unit)) {
    throw new SudoError(`unit ${unit} is not in this target's restart list`, {
      target,
      hint: 'add it to restart: in the config (pollpray restarts only listed units)',
    });
  }
  // The schema already requires this; a relative path here would let PATH pick the binary sudo runs.
  if (!isAbsolute(systemctl)) {
    throw new SudoError(`systemctl path ${systemctl} is not absolute`, { target, hint: 'set systemctl: to an absolute path, e.g. /usr/bin/systemctl' });
  }
  return ['sudo', '-n', systemctl, 'restart', unit];
}

/**
 * A word in a sudoers command line: `\`, `,`, `:` and `=` are sudoers syntax, so a
 * unit such as `app@a:b.service` must have them escaped to match itself only.
 */
export function sudoersWord(word: string): string {
  return word.replace(/[\\,:=]/g, (c) => `\\${c}`);
}

/** `user` is a user name, or `%group` for a group. */
export function sudoersLine(principal: string, systemctl: string, unit: string): string {
  return `${principal} ALL=(root) NOPASSWD: ${sudoersWord(systemctl)} restart ${sudoersWord(unit)}`;
}

/** What sudo says when the rule is missing, lacks NOPASSWD, or the user may not use sudo at all. */
const NEEDS_RULE = /password is required|a terminal is required|may not run sudo|not allowed to execute|is not in the sudoers|must have a tty/i;

export async function restartUnit(opts: {
  systemctl: string;
  unit: string;
  allowlist: readonly string[];
  target: string;
  user: string;
  cwd: string;
  timeoutMs?: number;
}): Promise<void> {
  const argv = restartArgv(opts.systemctl, opts.unit, opts.allowlist, opts.target);
  const result = await run(argv, { cwd: opts.cwd, timeoutMs: opts.timeoutMs ?? 90_000, env: SUDO_ENV, killGraceMs: 2000 });
  const error = restartFailure(result, opts);
  if (error) throw error;
}

/**
 * What a failed `sudo -n <systemctl> restart <unit>` means, pure so each case is
 * table-tested. Host faults (sudo missing, no rule, a service manager that does not
 * answer, a unit that does not exist) are never counted against the commit; a unit that
 * the manager tried and that failed or hung is the commit's.
 */
export function restartFailure(
  result: Pick<RunResult, 'exitCode' | 'stderr' | 'timedOut' | 'spawnError'>,
  opts: { systemctl: string; unit: string; target: string; user: string },
): SudoError | undefined {
  if (result.exitCode === 0 && !result.timedOut && !result.spawnError) return undefined;
  if (result.spawnError === 'ENOENT') {
    return new SudoError('sudo is not installed', { target: opts.target, hint: 'install sudo (apt-get install sudo), then run pollpray sudoers --install' });
  }
  if (NEEDS_RULE.test(result.stderr)) {
    return new SudoError(`sudo refused to restart ${opts.unit} without a password`, {
      target: opts.target,
      hint: `allow it with this sudoers line (sudo pollpray sudoers --install writes it): ${sudoersLine(opts.user, opts.systemctl, opts.unit)}`,
    });
  }
  if (result.timedOut) {
    // A unit that does not come up in time is what the new code did: the commit's fault.
    return new SudoError(`restart of ${opts.unit} did not finish in time and was killed`, {
      target: opts.target,
      hint: `check the unit: systemctl status ${opts.unit}`,
      fault: 'commit',
    });
  }
  const last = result.stderr.trim().split('\n').pop() ?? '';
  const failed = `restart of ${opts.unit} failed (exit ${result.exitCode})${last ? `: ${last}` : ''}`;
  if (MANAGER_UNREACHABLE.test(result.stderr)) {
    return new SudoError(`${failed}: the service manager does not answer`, {
      target: opts.target,
      hint: `this host's service manager is not reachable through ${opts.systemctl}: set systemctl: to the tool that restarts services here, or start systemd`,
    });
  }
  if (UNIT_MISSING.test(result.stderr)) {
    return new SudoError(`${failed}: no such unit on this host`, {
      target: opts.target,
      hint: `install the unit ${opts.unit}, or fix restart: in the config (systemctl list-units shows what exists)`,
    });
  }
  // The unit exists and the manager answered: the new code did not start.
  return new SudoError(failed, { target: opts.target, hint: `check the unit: systemctl status ${opts.unit}`, fault: 'commit' });
}

/** systemctl without a running systemd (containers, WSL, OpenRC hosts): the host's fault, never the commit's. */
const MANAGER_UNREACHABLE = /Failed to connect to bus|System has not been booted with systemd|Host is down|Failed to get D-Bus connection|Launch helper exited|command not found/i;
/** The unit named in the config does not exist here. */
const UNIT_MISSING = /Unit \S+ not found/i;
