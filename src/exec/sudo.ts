/**
 * The only privileged act: `sudo -n <manager> restart <name>` for a unit or program on the
 * target's allowlist (systemctl restart <unit>, service <name> restart, or supervisorctl
 * [-c <file>] restart <program>). `-n` makes sudo fail at once instead of prompting, so an
 * unattended run can never hang on a password.
 */
import { isAbsolute } from 'node:path';
import type { ServiceManager } from '../config/normalise.js';
import { restartNameProblem } from '../config/schema.js';
import { SudoError } from '../errors.js';
import { run, type RunResult } from './run.js';

/**
 * sudo's messages are matched below, so they must be in English whatever the host's
 * locale; and stdin is never a terminal (run() ignores it), so nothing can prompt.
 */
const SUDO_ENV = { LC_ALL: 'C', LANG: 'C', LANGUAGE: undefined };

/** The service manager's own argv for `verb` of `name`, without sudo (also what the sudoers line names). */
export function managerArgv(manager: ServiceManager, verb: 'restart' | 'status', name: string): string[] {
  switch (manager.kind) {
    case 'systemd':
      return [manager.binary, verb, name];
    case 'service':
      return [manager.binary, name, verb];
    case 'supervisorctl':
      return [manager.binary, ...(manager.config ? ['-c', manager.config] : []), verb, name];
  }
}

/** The command an operator runs to see why a restart failed. */
function statusCommand(manager: ServiceManager, name: string): string {
  return managerArgv(manager, 'status', name).join(' ');
}

/** The exact argv for restarting `unit`; anything not on the allowlist is refused before sudo runs. */
export function restartArgv(manager: ServiceManager, unit: string, allowlist: readonly string[], target: string): string[] {
  if (!allowlist.includes(unit) || restartNameProblem(manager.kind, unit) !== undefined) {
    throw new SudoError(`${unit} is not in this target's restart list`, {
      target,
      hint: 'add it to restart: in the config (pollpray restarts only listed units and programs)',
    });
  }
  // The schema already requires this; a relative path here would let PATH pick the binary sudo runs.
  if (!isAbsolute(manager.binary) || (manager.config !== undefined && !isAbsolute(manager.config))) {
    throw new SudoError(`${manager.kind} path ${manager.binary} is not absolute`, { target, hint: 'set it to an absolute path in the config, e.g. /usr/bin/systemctl' });
  }
  return ['sudo', '-n', ...managerArgv(manager, 'restart', unit)];
}

/**
 * A word in a sudoers command line: `\`, `,`, `:` and `=` are sudoers syntax, so a
 * unit such as `app@a:b.service` must have them escaped to match itself only.
 */
export function sudoersWord(word: string): string {
  return word.replace(/[\\,:=]/g, (c) => `\\${c}`);
}

/** One command as sudoers writes it: each word escaped, so it matches exactly this argv. */
export function sudoersCommand(argv: readonly string[]): string {
  return argv.map(sudoersWord).join(' ');
}

/** `principal` is a user name, or `%group` for a group; `argv` the exact command allowed. */
export function sudoersLine(principal: string, argv: readonly string[]): string {
  return `${principal} ALL=(root) NOPASSWD: ${sudoersCommand(argv)}`;
}

/** systemctl on a host whose PID 1 is not systemd (containers, WSL, OpenRC, supervisord). */
const NO_SYSTEMD = /System has not been booted with systemd|Failed to connect to bus|Host is down/i;

/** What sudo says when the rule is missing, lacks NOPASSWD, or the user may not use sudo at all. */
const NEEDS_RULE = /password is required|a terminal is required|may not run sudo|not allowed to execute|is not in the sudoers/i;

/**
 * `Defaults requiretty` (old RHEL/CentOS's default): the rule is there, but sudo refuses
 * any caller without a terminal, which cron and systemd never give.
 */
const REQUIRES_TTY = /you must have a tty to run sudo/i;

/** The sudoers line that lifts requiretty for `user` alone, and where to put it. */
export function requirettyFix(user: string): string {
  return `add the line Defaults:${user} !requiretty to a sudoers drop-in (sudo visudo -f /etc/sudoers.d/pollpray-requiretty), or remove Defaults requiretty from /etc/sudoers: pollpray runs sudo -n from cron or systemd, without a terminal`;
}

export async function restartUnit(opts: {
  manager: ServiceManager;
  unit: string;
  allowlist: readonly string[];
  target: string;
  user: string;
  cwd: string;
  timeoutMs?: number;
}): Promise<void> {
  const argv = restartArgv(opts.manager, opts.unit, opts.allowlist, opts.target);
  const result = await run(argv, { cwd: opts.cwd, timeoutMs: opts.timeoutMs ?? 90_000, env: SUDO_ENV, killGraceMs: 2000 });
  const error = restartFailure(result, { ...opts, argv });
  if (error) throw error;
}

/** The manager itself does not answer: supervisord not running, the binary missing. */
const MANAGER_UNREACHABLE = /unix:\/\/\S+ (?:no such file|refused connection)|Failed to get D-Bus connection|Launch helper exited|command not found/i;
/** The unit or program named in the config does not exist here. */
const UNIT_MISSING = /Unit \S+ not found|ERROR \(no such process\)|unrecognized service/i;

/**
 * What a failed `sudo -n <manager> restart <name>` means, pure so each case is
 * table-tested. Host faults (sudo missing, no rule, a service manager that does not
 * answer, a unit that does not exist) are never counted against the commit; a unit that
 * the manager tried and that failed or hung is the commit's.
 */
export function restartFailure(
  result: Pick<RunResult, 'exitCode' | 'stderr' | 'stdout' | 'timedOut' | 'spawnError'>,
  opts: { manager: ServiceManager; unit: string; target: string; user: string; argv: readonly string[] },
): SudoError | undefined {
  if (result.exitCode === 0 && !result.timedOut && !result.spawnError) return undefined;
  if (result.spawnError === 'ENOENT') {
    return new SudoError('sudo is not installed', { target: opts.target, hint: 'install sudo (apt-get install sudo), then run pollpray sudoers --install' });
  }
  if (REQUIRES_TTY.test(result.stderr)) {
    return new SudoError(`sudo refused to restart ${opts.unit}: sudoers sets requiretty, so sudo wants a terminal and pollpray runs without one`, {
      target: opts.target,
      hint: requirettyFix(opts.user),
    });
  }
  if (NEEDS_RULE.test(result.stderr)) {
    return new SudoError(`sudo refused to restart ${opts.unit} without a password`, {
      target: opts.target,
      hint: `allow it with this sudoers line (sudo pollpray sudoers --install writes it): ${sudoersLine(opts.user, opts.argv.slice(2))}`,
    });
  }
  if (opts.manager.kind === 'systemd' && NO_SYSTEMD.test(result.stderr)) {
    return new SudoError(`systemd is not running on this host, so ${opts.unit} cannot be restarted with systemctl`, {
      target: opts.target,
      hint: 'set service_manager: service (SysV/OpenRC) or supervisorctl in the config, then sudo pollpray sudoers --install again (README "Hosts without systemd")',
    });
  }
  if (result.timedOut) {
    // A unit that does not come up in time is what the new code did: the commit's fault.
    return new SudoError(`restart of ${opts.unit} did not finish in time and was killed`, {
      target: opts.target,
      hint: `check it: ${statusCommand(opts.manager, opts.unit)}`,
      fault: 'commit',
    });
  }
  // supervisorctl reports "app: ERROR (no such process)" on stdout.
  const output = `${result.stderr}\n${result.stdout}`;
  const last = (result.stderr.trim() || result.stdout.trim()).split('\n').pop() ?? '';
  const failed = `restart of ${opts.unit} failed (exit ${result.exitCode})${last ? `: ${last}` : ''}`;
  if (MANAGER_UNREACHABLE.test(output)) {
    return new SudoError(`${failed}: the service manager does not answer`, {
      target: opts.target,
      hint: `start the service manager (${opts.manager.binary}), or set service_manager: to the one this host runs`,
    });
  }
  if (UNIT_MISSING.test(output)) {
    return new SudoError(`${failed}: no such unit or program on this host`, {
      target: opts.target,
      hint: `install ${opts.unit}, or fix restart: in the config (${statusCommand(opts.manager, opts.unit)} shows it)`,
    });
  }
  // The unit exists and the manager answered: the new code did not start.
  return new SudoError(failed, { target: opts.target, hint: `check it: ${statusCommand(opts.manager, opts.unit)}`, fault: 'commit' });
}
