import type { Config, Target } from '../config/normalise.js';
import { Fleet, type FleetTurn } from '../coordination/fleet.js';
import { splayDelayMs } from '../coordination/splay.js';
import { checkTarget, deployChecked, type Checked, type PendingDeploy, type TargetOutcome } from '../deploy/cycle.js';
import { limiter, mapLimit } from '../deploy/pool.js';
import { formatDuration } from '../duration.js';
import { closeMultiplexing, connectionGroup, controlDir, masterPlans, openMasters, startMultiplexing } from '../git/multiplex.js';
import { saveConnectRecord } from '../config/connect-cache.js';
import { namedFiles } from '../config/file-trust.js';
import { writeFileAtomic } from '../state/store.js';
import { sshDestination } from '../git/ssh-url.js';
import { requireOwnership } from '../host/ownership.js';
import { configureLogging, log } from '../log/logger.js';
import { afterRun } from '../notify/after-run.js';
import { selectTargets } from './select.js';
import type { Command } from 'commander';
import { configFrom, type CliContext } from './cli-context.js';
import { EXIT } from '../errors.js';
import { out, problem, stdinIsTty, stdoutIsTty } from '../log/console.js';
import { outcomeLine, problemLines } from '../render/text.js';

export interface RunOptions {
  /**
   * Loaded by loadConfig, which refused files other local users could change; a caller
   * that keeps a config for long (the daemon) checks again before each run.
   */
  config: Config;
  targets: string[];
  dryRun: boolean;
  force: boolean;
  /** Wait the host's share of `splay` first (cron runs; the CLI turns it off on a TTY or with --no-splay). */
  splay?: boolean;
}

export interface RunReport {
  dryRun: boolean;
  durationMs: number;
  outcomes: TargetOutcome[];
}

/** Targets whose check (lock, state, ls-remote) is under way at once, when `concurrency` is lower. */
export const PREPARED_AT_ONCE = 32;
/** ls-remotes in flight on one shared ssh connection (or, together, to remotes not over ssh), when `concurrency` is lower. */
export const SESSIONS_PER_CONNECTION = 8;

export const FAILED_RESULTS = new Set(['failed', 'error', 'refused', 'unverified', 'quarantined']);

export async function run(options: RunOptions): Promise<RunReport> {
  const started = Date.now();
  const { config } = options;
  const targets = selectTargets(config, options.targets);
  // Run as the wrong user (sudo pollpray run): stop before the first write, log included.
  requireOwnership(config, targets);
  // No deploy without an audit trail: an unwritable log dir stops the run here.
  configureLogging(config.log);
  // splay spreads a fleet's cron runs; a dry run has no herd to spread.
  const delay = options.splay && !options.dryRun ? splayDelayMs(config.hostId, config.splayMs) : 0;
  if (delay > 0) {
    log.debug(`splay: waiting ${formatDuration(delay)} before polling (host ${config.hostId})`, { step: 'splay' });
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  const fleet = options.dryRun ? undefined : Fleet.of(config);
  // Each target's fleet turn (slot, canary gate) ends as soon as its outcome is known.
  const turns = new Map<Target, FleetTurn>();
  const ended = async (target: Target, outcome: TargetOutcome): Promise<TargetOutcome> => {
    await turns.get(target)?.end(outcome);
    return outcome;
  };
  const sharing = startMultiplexing(config.stateDir);
  // Each ssh host's handshake starts now (or started before the config was read, see
  // early-connect.ts) and overlaps the locks, state reads and leftover checks below.
  const masters = openMasters(targets);
  // What the next run of this same config may start early.
  if (sharing) {
    const named = namedFiles(config);
    const paths = (writes: boolean) => named.filter((f) => (f.use === 'writes') === writes).map((f) => f.path);
    saveConnectRecord(config.file, paths(false), paths(true), masterPlans(controlDir(config.stateDir), targets), writeFileAtomic);
  }
  try {
    // When each outcome was known, for the metrics' per-target durations.
    const finishedAt = new Map<TargetOutcome, number>();
    const stamp = (outcome: TargetOutcome) => (finishedAt.set(outcome, Date.now()), outcome);
    const checked = new Map<Target, Checked>();
    // A check is mostly waiting: for the handshake, then for the remote's answer. Up to
    // PREPARED_AT_ONCE targets take their lock and read their state meanwhile, and up to
    // SESSIONS_PER_CONNECTION ls-remotes of one connection group (below sshd's default
    // MaxSessions of 10) are in flight; `concurrency`, when higher, raises both and
    // bounds the deploys.
    const slot = limiter(Math.max(config.concurrency, PREPARED_AT_ONCE));
    const remotes = new Map<string, ReturnType<typeof limiter>>();
    const remoteOf = (target: Target) => {
      const group = sshDestination(target.repo) ? connectionGroup(target) : 'not-ssh';
      let remote = remotes.get(group);
      if (!remote) remotes.set(group, (remote = limiter(Math.max(config.concurrency, SESSIONS_PER_CONNECTION))));
      return remote;
    };
    const check = (target: Target, connected?: Promise<unknown>) =>
      slot(async () => {
        const turn = fleet?.turn(config, target);
        if (turn) turns.set(target, turn);
        const c = await checkTarget(config, target, { dryRun: options.dryRun, force: options.force, fleet: turn, connected, remote: remoteOf(target) });
        if (c.kind === 'done') stamp(await ended(target, c.outcome));
        checked.set(target, c);
      });
    // Resolve every target before any fetch. Every target of a connection group whose
    // master is being opened starts at once and waits for it only before going to the
    // remote; if that master does not come up, the group's first target connects alone
    // and becomes the master, and the rest wait for it and then share it instead of
    // racing to open connections of their own.
    await Promise.all(
      groupByConnection(targets).map(async ([group, members]) => {
        const [first, ...rest] = members as [Target, ...Target[]];
        const master = masters.get(group);
        if (!master) {
          await check(first);
          await Promise.all(rest.map((t) => check(t)));
          return;
        }
        const firstDone = check(first, master);
        const shared = master.then((up) => (up ? undefined : firstDone.catch(() => undefined)));
        await Promise.all([firstDone, ...rest.map((t) => check(t, shared))]);
      }),
    );
    const inOrder = targets.map((t) => checked.get(t) as Checked);
    const pending = inOrder.filter((c): c is PendingDeploy => c.kind === 'pending');
    const deployed = new Map<PendingDeploy, TargetOutcome>();
    const results = await mapLimit(pending, config.concurrency, async (p) => stamp(await ended(p.target, await deployChecked(p))));
    pending.forEach((p, i) => deployed.set(p, results[i] as TargetOutcome));
    const outcomes = inOrder.map((c) => (c.kind === 'done' ? c.outcome : (deployed.get(c) as TargetOutcome)));
    const report: RunReport = { dryRun: options.dryRun, durationMs: Date.now() - started, outcomes };
    // Nothing after this point goes to a remote: the connections close while the
    // bookkeeping below runs, not after it.
    const closing = closeMultiplexing();
    // A dry run changes nothing, so it tells nobody anything either.
    if (!options.dryRun) {
      const finished = outcomes.map((outcome) => ({ outcome, finishedAt: finishedAt.get(outcome) ?? Date.now() }));
      await afterRun({ config, finished, failed: runFailed(report), started });
    }
    await closing;
    return report;
  } finally {
    await closeMultiplexing();
    await fleet?.close();
  }
}

/** Targets by ssh connection group, in config order (a target not over ssh is a group of its own). */
export function groupByConnection(targets: readonly Target[]): Array<[string, Target[]]> {
  const groups = new Map<string, Target[]>();
  for (const target of targets) {
    const group = connectionGroup(target);
    const members = groups.get(group);
    if (members) members.push(target);
    else groups.set(group, [target]);
  }
  return [...groups];
}

export function runFailed(report: RunReport): boolean {
  return report.outcomes.some((o) => FAILED_RESULTS.has(o.result));
}

export function defineCommands(program: Command, cli: CliContext): void {
  program
    .command('run')
    .description('check every target (or the named ones) once and deploy what changed')
    .argument('[targets...]', 'target names (default: all)')
    .option('-n, --dry-run', 'say what would happen and change nothing')
    .option('-f, --force', 'redeploy the current head even when it is already deployed')
    .option('--no-splay', 'start at once, without the per-host splay delay (already off on a terminal)')
    .action(async (targets: string[], opts: { dryRun?: boolean; force?: boolean; splay: boolean }, cmd: Command) => {
      // splay spreads a fleet's cron runs; a person at a terminal should not wait for it.
      const splay = opts.splay && !stdoutIsTty() && !stdinIsTty();
      const report = await run({ config: await configFrom(cmd), targets, dryRun: !!opts.dryRun, force: !!opts.force, splay });
      // Cron mails whatever a job prints: on a non-TTY a healthy run is silent.
      if (stdoutIsTty() || report.dryRun) for (const o of report.outcomes) out(outcomeLine(o, report.dryRun));
      else for (const line of problemLines(report)) problem(line);
      if (stdoutIsTty()) for (const line of problemLines(report)) problem(line);
      cli.setExit(runFailed(report) ? EXIT.failed : EXIT.ok);
    });
}
