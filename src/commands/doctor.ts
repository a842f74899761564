/**
 * `pollpray doctor`: one line per check, ok / warn / fail, each non-ok line with its
 * fix. Exit 1 when any check fails. A config that does not load is itself the first
 * failure; the checks that need it are then left out (the host checks still run).
 */
import { configFileProblem } from '../config/file-trust.js';
import type { Config } from '../config/normalise.js';
import { userName } from '../host/users.js';
import { errorMessage, PollprayError, EXIT } from '../errors.js';
import { fsFault } from '../host/fs-fault.js';
import type { Check, CheckResult, DoctorContext } from '../doctor/check.js';
import { deployScripts, directories, diskSpace, gitVersion, keyPermissions, namedFileTrust, ownership, repositoryTools, runningUser, scheduled, targetPaths } from '../doctor/checks.js';
import { knownHosts } from '../doctor/known-hosts-check.js';
import { sshReachability } from '../doctor/ssh-check.js';
import { serviceManagers } from '../doctor/service-manager-check.js';
import { sudoRules } from '../doctor/sudo-check.js';
import type { Command } from 'commander';
import { configLoader, type CliContext } from './cli-context.js';
import { out } from '../log/console.js';
import { doctorLines } from '../render/doctor.js';
import { currentUserName } from './sudoers.js';

/** Checks that need no config, in the order shown. */
const HOST_CHECKS: readonly Check[] = [runningUser, gitVersion];

/** Checks of the config's targets, in the order a new user would fix them. */
export const CONFIG_CHECKS: readonly Check[] = [
  directories,
  ownership,
  targetPaths,
  keyPermissions,
  knownHosts,
  sshReachability,
  deployScripts,
  namedFileTrust,
  repositoryTools,
  sudoRules,
  serviceManagers,
  diskSpace,
  scheduled,
];

export interface DoctorOptions {
  /** Locates and loads the config; throws ConfigError when it is invalid. */
  loadConfig: () => Config;
  uid: number;
  user: string;
  checks?: readonly Check[];
}

export interface DoctorReport {
  checks: CheckResult[];
  failed: boolean;
}

/** A check that throws is a bug or an odd host, not a reason to lose the other lines. */
async function guarded(check: Check, ctx: DoctorContext): Promise<CheckResult[]> {
  try {
    return await check(ctx);
  } catch (err) {
    // A directory it may not read is the host's problem, named by its key; anything else is a bug.
    const host = fsFault(err);
    if (host) return [{ name: check.name || 'check', status: 'fail', detail: `could not check: ${host.message}`, ...(host.hint ? { fix: host.hint } : {}) }];
    return [{ name: check.name || 'check', status: 'fail', detail: `could not check: ${errorMessage(err)}`, fix: 'see the message; report it if it looks like a bug' }];
  }
}

export async function doctor(o: DoctorOptions): Promise<DoctorReport> {
  const results: CheckResult[] = [];
  let config: Config | undefined;
  try {
    config = o.loadConfig();
    // Loaded even when another user owns it (doctor only looks), but run would stop there: the same rule, as a failure.
    const untrusted = configFileProblem(config.file, { uid: o.uid, user: o.user });
    results.push(
      untrusted
        ? { name: 'config', status: 'fail', detail: untrusted.message, fix: untrusted.owner !== undefined ? `run it as its owner (sudo -u ${userName(untrusted.owner)} pollpray …), or ${untrusted.fix}` : untrusted.fix }
        : { name: 'config', status: 'ok', detail: `${config.file}: ${config.targets.length} target(s): ${config.targets.map((t) => t.name).join(', ')}` },
    );
  } catch (err) {
    const detail = err instanceof PollprayError ? err.lines().join('; ') : errorMessage(err);
    results.push({ name: 'config', status: 'fail', detail, fix: 'fix the config (pollpray validate lists every problem with its line), then run doctor again' });
  }
  const hostCtx: DoctorContext = { config: config as Config, uid: o.uid, user: o.user };
  for (const check of HOST_CHECKS) results.push(...(await guarded(check, hostCtx)));
  if (config) for (const check of o.checks ?? CONFIG_CHECKS) results.push(...(await guarded(check, { ...hostCtx, config })));
  return { checks: results, failed: results.some((r) => r.status === 'fail') };
}

export function defineCommands(program: Command, cli: CliContext): void {
  program
    .command('doctor')
    .description('check this host and the config for everything an unattended run needs; every problem with its fix')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const report = await doctor({ loadConfig: await configLoader(cmd, 'report', true), uid: process.getuid?.() ?? 1000, user: currentUserName() });
      if (opts.json) out(JSON.stringify(report, null, 2));
      else for (const line of doctorLines(report)) out(line);
      cli.setExit(report.failed ? EXIT.failed : EXIT.ok);
    });
}
