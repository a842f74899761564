/**
 * Whether sudo lets this user run each restart command without a password, asked the
 * way pollpray will need it: `sudo -n` (never prompts), with sudo's own matching.
 */
import { findBinary } from '../exec/find-binary.js';
import { run } from '../exec/run.js';
import { requirettyFix, sudoersCommand, sudoersLine } from '../exec/sudo.js';
import { allowlistedCommands } from '../privilege/sudoers.js';
import type { Check, CheckResult } from './check.js';
import { needsPassword, parseSudoLongListing, passwordless, requiresTty } from './sudo-listing.js';

const SUDO_ENV = { LC_ALL: 'C', LANG: 'C', LANGUAGE: undefined };

export const sudoRules: Check = async ({ config, uid, user }) => {
  // Only what a run needs; supervisorctl's status line serves doctor itself, which says so
  // in its own check (service-manager-check.ts) when sudo refuses it.
  const commands = allowlistedCommands(config).filter((c) => c.verb === 'restart');
  if (commands.length === 0) return [];
  if (uid === 0) return [{ name: 'sudo', status: 'ok', detail: 'running as root: restarts need no sudo rule' }];
  const install = `sudo pollpray sudoers --install --user ${user}`;
  if (!findBinary('sudo')) {
    return [{ name: 'sudo', status: 'fail', detail: 'sudo is not installed, so no restart can run', fix: `apt-get install sudo, then ${install}` }];
  }
  const opts = { cwd: '/', timeoutMs: 10_000, env: SUDO_ENV };
  const long = await run(['sudo', '-n', '-ll'], opts);
  const listing = parseSudoLongListing(long.exitCode === 0 ? long.stdout : '');
  const results: CheckResult[] = [];
  for (const { name: unit, argv } of commands) {
    const name = `sudo (${unit})`;
    const shown = `sudo -n ${argv.join(' ')}`;
    const command = sudoersCommand(argv);
    const fix = `${install} (it writes: ${sudoersLine(user, argv)})`;
    const allowed = await run(['sudo', '-n', '-l', ...argv], opts);
    if (allowed.exitCode !== 0) {
      results.push({ name, status: 'fail', detail: `no sudo rule lets ${user} run ${shown} without a password`, fix });
    } else if (long.exitCode === 0 && requiresTty(long.stdout, argv, command)) {
      results.push({ name, status: 'fail', detail: `sudo allows ${shown}, but sudoers sets requiretty for it, so sudo -n fails without a terminal (cron, systemd)`, fix: requirettyFix(user) });
    } else if (needsPassword(listing, command)) {
      results.push({ name, status: 'fail', detail: `the sudo rule for ${shown} has no NOPASSWD, so sudo -n fails`, fix });
    } else if (!passwordless(listing, command)) {
      results.push({
        name,
        status: 'warn',
        detail: `sudo allows ${shown}, but sudo -ll shows no NOPASSWD rule for exactly that command: without one, sudo -n fails`,
        fix,
      });
    } else {
      results.push({ name, status: 'ok', detail: `${shown} is allowed without a password` });
    }
  }
  return results;
};
