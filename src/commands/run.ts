import type { Config } from '../config/normalise.js';
import { runCycle, type TargetOutcome } from '../deploy/cycle.js';
import { mapLimit } from '../deploy/pool.js';
import { configureLogging } from '../log/logger.js';
import { afterRun } from '../notify/after-run.js';
import { selectTargets } from './select.js';

export interface RunOptions {
  config: Config;
  targets: string[];
  dryRun: boolean;
  force: boolean;
}

export interface RunReport {
  dryRun: boolean;
  durationMs: number;
  outcomes: TargetOutcome[];
}

export const FAILED_RESULTS = new Set(['failed', 'error', 'refused', 'unverified', 'quarantined']);

export async function run(options: RunOptions): Promise<RunReport> {
  const started = Date.now();
  const targets = selectTargets(options.config, options.targets);
  // No deploy without an audit trail: an unwritable log dir stops the run here.
  configureLogging(options.config.log);
  const finished = await mapLimit(targets, options.config.concurrency, async (target) => {
    const outcome = await runCycle(options.config, target, { dryRun: options.dryRun, force: options.force });
    return { outcome, finishedAt: Date.now() };
  });
  const report: RunReport = { dryRun: options.dryRun, durationMs: Date.now() - started, outcomes: finished.map((f) => f.outcome) };
  // A dry run changes nothing, so it tells nobody anything either.
  if (!options.dryRun) await afterRun({ config: options.config, finished, failed: runFailed(report), started });
  return report;
}

export function runFailed(report: RunReport): boolean {
  return report.outcomes.some((o) => FAILED_RESULTS.has(o.result));
}
