/**
 * The only privileged act: `sudo -n <systemctl> restart <unit>` for a unit on the
 * target's allowlist. `-n` makes sudo fail at once instead of prompting, so an
 * unattended run can never hang on a password.
 */
import { UNIT_NAME_PATTERN } from '../config/schema.js';
import { SudoError } from '../errors.js';
import { run } from './run.js';

/** The exact argv for restarting `unit`; anything not on the allowlist is refused before sudo runs. */
export function restartArgv(systemctl: string, unit: string, allowlist: readonly string[], target: string): string[] {
  if (!allowlist.includes(unit) || !UNIT_NAME_PATTERN.test(unit)) {
    throw new SudoError(`unit ${unit} is not in this target's restart list`, {
      target,
      hint: 'add it to restart: in the config (pollpray restarts only listed units)',
    });
  }
  return ['sudo', '-n', systemctl, 'restart', unit];
}

export function sudoersLine(user: string, systemctl: string, unit: string): string {
  return `${user} ALL=(root) NOPASSWD: ${systemctl} restart ${unit}`;
}

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
  const result = await run(argv, { cwd: opts.cwd, timeoutMs: opts.timeoutMs ?? 90_000 });
  if (result.exitCode === 0) return;
  const text = `${result.stderr}\n${result.spawnError ?? ''}`;
  if (/password is required|a terminal is required|may not run sudo|not allowed to execute|is not in the sudoers/i.test(text)) {
    throw new SudoError(`sudo refused to restart ${opts.unit} without a password`, {
      target: opts.target,
      hint: `allow it with this sudoers line (pollpray sudoers prints the file): ${sudoersLine(opts.user, opts.systemctl, opts.unit)}`,
    });
  }
  if (result.spawnError === 'ENOENT') {
    throw new SudoError('sudo is not installed', { target: opts.target, hint: 'install sudo (apt-get install sudo)' });
  }
  const last = result.stderr.trim().split('\n').pop() ?? '';
  throw new SudoError(`restart of ${opts.unit} failed (exit ${result.exitCode})${last ? `: ${last}` : ''}`, {
    target: opts.target,
    hint: `check the unit: systemctl status ${opts.unit}`,
  });
}
