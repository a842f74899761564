import type { Config, Target } from '../config/normalise.js';
import { refuseUntrustedFiles, runningUser } from '../config/file-trust.js';
import { Fleet, type FleetTurn } from '../coordination/fleet.js';
import { splayDelayMs } from '../coordination/splay.js';
import { checkTarget, deployChecked, type Checked, type PendingDeploy, type TargetOutcome } from '../deploy/cycle.js';
import { mapLimit } from '../deploy/pool.js';
import { formatDuration } from '../duration.js';
import { closeMultiplexing, connectionGroup, startMultiplexing } from '../git/multiplex.js';
import { requireOwnership } from '../host/ownership.js';
import { configureLogging, log } from '../log/logger.js';
import { afterRun } from '../notify/after-run.js';
import { selectTargets } from './select.js';

export interface RunOptions {
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

export const FAILED_RESULTS = new Set(['failed', 'error', 'refused', 'unverified', 'quarantined']);

export async function run(options: RunOptions): Promise<RunReport> {
  const started = Date.now();
  const { config } = options;
  const targets = selectTargets(config, options.targets);
  // Run as the wrong user (sudo pollpray run): stop before the first write, log included.
  requireOwnership(config, targets);
  // Checked at load too; again here because a daemon runs many cycles on one load, and a
  // script that became writable by others since must not run.
  refuseUntrustedFiles(config, runningUser());
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
  startMultiplexing(config.stateDir);
  try {
    // Resolve every target before any fetch. The first target of each ssh connection
    // group goes alone so it becomes the group's master; the rest then share it
    // instead of racing to open connections of their own.
    const { leaders, followers } = splitByConnection(targets);
    // When each outcome was known, for the metrics' per-target durations.
    const finishedAt = new Map<TargetOutcome, number>();
    const stamp = (outcome: TargetOutcome) => (finishedAt.set(outcome, Date.now()), outcome);
    const check = async (target: Target) => {
      const turn = fleet?.turn(config, target);
      if (turn) turns.set(target, turn);
      const c = await checkTarget(config, target, { dryRun: options.dryRun, force: options.force, fleet: turn });
      if (c.kind === 'done') stamp(await ended(target, c.outcome));
      return c;
    };
    const checked = new Map<Target, Checked>();
    for (const batch of [leaders, followers]) {
      const results = await mapLimit(batch, config.concurrency, check);
      batch.forEach((target, i) => checked.set(target, results[i] as Checked));
    }
    const inOrder = targets.map((t) => checked.get(t) as Checked);
    const pending = inOrder.filter((c): c is PendingDeploy => c.kind === 'pending');
    const deployed = new Map<PendingDeploy, TargetOutcome>();
    const results = await mapLimit(pending, config.concurrency, async (p) => stamp(await ended(p.target, await deployChecked(p))));
    pending.forEach((p, i) => deployed.set(p, results[i] as TargetOutcome));
    const outcomes = inOrder.map((c) => (c.kind === 'done' ? c.outcome : (deployed.get(c) as TargetOutcome)));
    const report: RunReport = { dryRun: options.dryRun, durationMs: Date.now() - started, outcomes };
    // A dry run changes nothing, so it tells nobody anything either.
    if (!options.dryRun) {
      const finished = outcomes.map((outcome) => ({ outcome, finishedAt: finishedAt.get(outcome) ?? Date.now() }));
      await afterRun({ config, finished, failed: runFailed(report), started });
    }
    return report;
  } finally {
    await closeMultiplexing();
    await fleet?.close();
  }
}

export function splitByConnection(targets: readonly Target[]): { leaders: Target[]; followers: Target[] } {
  const seen = new Set<string>();
  const leaders: Target[] = [];
  const followers: Target[] = [];
  for (const target of targets) {
    const group = connectionGroup(target);
    (seen.has(group) ? followers : leaders).push(target);
    seen.add(group);
  }
  return { leaders, followers };
}

export function runFailed(report: RunReport): boolean {
  return report.outcomes.some((o) => FAILED_RESULTS.has(o.result));
}
