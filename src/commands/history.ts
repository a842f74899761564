import type { Config } from '../config/normalise.js';
import { runningUser, untrustedDirs, type DirProblem, type Runner } from '../config/file-trust.js';
import { HISTORY_DEFAULT_LIMIT, readHistory, type CycleResult } from '../state/store.js';
import { selectTargets } from './select.js';
import type { Command } from 'commander';
import { configFrom, type CliContext } from './cli-context.js';
import { out } from '../log/console.js';
import { historyLines } from '../render/text.js';

/** One line of `history --json`; field names are a stable contract (only ever added to). */
export interface HistoryRow {
  time: string;
  target: string;
  result: CycleResult;
  commit: string | null;
  previous_commit: string | null;
  duration_ms: number;
  subject: string | null;
  error: string | null;
  rolled_back: boolean;
  release: string | null;
}

export interface HistoryReport {
  version: 1;
  entries: HistoryRow[];
  /** As in `status --json`: with a state dir here, nothing was read (no entries). */
  problems: DirProblem[];
}

/**
 * The last `limit` (default HISTORY_DEFAULT_LIMIT) deploys, failures, refusals and
 * rollbacks of the named targets (all when none), oldest first. Only that many lines
 * are read per target, from the end of its history: a huge history costs no more.
 */
export function history(config: Config, names: string[] = [], limit = HISTORY_DEFAULT_LIMIT, me: Runner = runningUser()): HistoryReport {
  const problems = untrustedDirs(config, me);
  // Nothing in a state dir others can write is read: a planted FIFO would block the read.
  const targets = selectTargets(config, names);
  const entries = (problems.some((p) => p.key === 'state_dir') ? [] : targets)
    .flatMap((t) => readHistory(config.stateDir, t.name, limit))
    .map(
      (h): HistoryRow => ({
        time: h.time,
        target: h.target,
        result: h.result,
        commit: h.sha,
        previous_commit: h.previousSha,
        duration_ms: h.durationMs,
        subject: h.subject ?? null,
        error: h.error ?? null,
        rolled_back: h.rolledBack ?? false,
        release: h.release ?? null,
      }),
    )
    .sort((a, b) => a.time.localeCompare(b.time));
  return { version: 1, entries: entries.slice(-limit), problems };
}

export function defineCommands(program: Command, _cli: CliContext): void {
  program
    .command('history')
    .description('what was deployed, failed, refused or rolled back, oldest first')
    .argument('[target]', 'one target (default: all)')
    .option('--json', 'machine-readable output (stable; see README)')
    .option('-n, --limit <count>', 'only the last <count> entries', (v) => Number.parseInt(v, 10))
    .action(async (target: string | undefined, opts: { json?: boolean; limit?: number }, cmd: Command) => {
      const report = history(await configFrom(cmd, 'report'), target ? [target] : [], opts.limit);
      if (opts.json) out(JSON.stringify(report, null, 2));
      else for (const line of historyLines(report)) out(line);
    });
}
