import type { Config } from '../config/normalise.js';
import { Fleet } from '../coordination/fleet.js';
import { splayDelayMs } from '../coordination/splay.js';
import { runCycle, type TargetOutcome } from '../deploy/cycle.js';
import { mapLimit } from '../deploy/pool.js';
import { configureLogging, log } from '../log/logger.js';
import { selectTargets } from './select.js';

export interface RunOptions {
  config: Config;
  targets: string[];
  dryRun: boolean;
  force: boolean;
  /** No terminal attached (cron, systemd): splay applies. */
  unattended?: boolean;
}

export interface RunReport {
  dryRun: boolean;
  durationMs: number;
  outcomes: TargetOutcome[];
}

export const FAILED_RESULTS = new Set(['failed', 'error', 'refused']);

export async function run(options: RunOptions): Promise<RunReport> {
  const started = Date.now();
  const targets = selectTargets(options.config, options.targets);
  // No deploy without an audit trail: an unwritable log dir stops the run here.
  configureLogging(options.config.log);
  const fleet = options.dryRun ? undefined : Fleet.of(options.config);
  await splayWait(options);
  try {
    const outcomes = await mapLimit(targets, options.config.concurrency, async (target) => {
      const turn = fleet?.turn(options.config, target);
      let outcome: TargetOutcome | undefined;
      try {
        outcome = await runCycle(options.config, target, { dryRun: options.dryRun, force: options.force, fleet: turn });
        return outcome;
      } finally {
        await turn?.end(outcome);
      }
    });
    return { dryRun: options.dryRun, durationMs: Date.now() - started, outcomes };
  } finally {
    await fleet?.close();
  }
}

/**
 * splay spreads the polls of many hosts over a window; a person at a terminal or a
 * dry run has no herd to spread, so only unattended runs wait.
 */
async function splayWait(options: RunOptions): Promise<void> {
  if (options.dryRun || !options.unattended) return;
  const delay = splayDelayMs(options.config.hostId, options.config.splayMs);
  if (delay === 0) return;
  log.debug(`splay: waiting ${delay}ms (host ${options.config.hostId})`, { step: 'splay' });
  await new Promise((r) => setTimeout(r, delay));
}

export function runFailed(report: RunReport): boolean {
  return report.outcomes.some((o) => FAILED_RESULTS.has(o.result));
}
