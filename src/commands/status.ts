import type { Config } from '../config/normalise.js';
import { dirProblemLine, runningUser, untrustedDirs, type DirProblem, type Runner } from '../config/file-trust.js';
import { errorMessage } from '../errors.js';
import { retryVerdict } from '../deploy/policy.js';
import { emptyState, readState, type CycleResult, type TargetState } from '../state/store.js';
import { selectTargets } from './select.js';
import type { Command } from 'commander';
import { configFrom, type CliContext } from './cli-context.js';
import { out } from '../log/console.js';
import { statusLines } from '../render/text.js';

/** One target as `status --json` shows it. Field names are a stable, documented contract. */
export interface TargetStatus {
  target: string;
  repo: string;
  /** The branch followed; null for a target that tracks tags. */
  branch: string | null;
  /** The tag pattern or version range followed, or null for a branch target. */
  tags: string | null;
  path: string;
  strategy: string;
  deployed_commit: string | null;
  previous_commit: string | null;
  remote_commit: string | null;
  last_check: string | null;
  last_success: string | null;
  last_result: CycleResult | null;
  last_error: string | null;
  paused: boolean;
  paused_reason: string | null;
  /** The last failed deploy went live and was switched back to the previous version. */
  rolled_back: boolean;
  /** releases: the release directory `current` points at (per state). */
  current_release: string | null;
  /** Failed attempts at remote_commit when it is not the deployed one. */
  failed_attempts: number;
  /** remote_commit failed max_attempts times: skipped until a new commit (or run --force). */
  quarantined: boolean;
  /** When a failed remote_commit is tried again (ISO 8601 UTC), or null. */
  next_retry: string | null;
  /**
   * The last attempt failed on a fault of this host (a non-executable script, a missing
   * sudo rule, an unwritable directory), not counted against the commit: last_error says
   * the fix, and the next run after it deploys remote_commit.
   */
  host_fault: boolean;
}

export interface StatusReport {
  version: 1;
  config: string;
  targets: TargetStatus[];
  /**
   * A state or log dir other local users could write (`key`: `state_dir` or `log.dir`),
   * which `run` refuses: each with its fix. A state dir here is not read: every target's
   * state is then unknown (nulls), with the problem as its `last_error` and `host_fault`.
   */
  problems: DirProblem[];
}

export function status(config: Config, names: string[] = [], now: Date = new Date(), me: Runner = runningUser()): StatusReport {
  const problems = untrustedDirs(config, me);
  const unsafeState = problems.find((p) => p.key === 'state_dir');
  return {
    version: 1,
    config: config.file,
    problems,
    targets: selectTargets(config, names).map((t) => {
      // Nothing in a state dir others can write is read: a planted FIFO would block the read.
      const { state } = unsafeState
        ? { state: { ...emptyState(t.name, t.branch), lastError: dirProblemLine(unsafeState) } }
        : readStateQuietly(config.stateDir, t.name, t.branch);
      return {
        target: t.name,
        repo: t.repo,
        branch: t.tags ? null : t.branch,
        tags: t.tags ?? null,
        path: t.path,
        strategy: t.strategy,
        deployed_commit: state.deployedSha,
        previous_commit: state.previousSha,
        remote_commit: state.remoteSha,
        last_check: state.lastCheck,
        last_success: state.lastSuccess,
        last_result: state.lastResult,
        last_error: state.lastError,
        paused: state.paused,
        paused_reason: state.paused ? state.pausedReason : null,
        rolled_back: state.rolledBack,
        current_release: state.currentRelease,
        ...retryStatus(state, t.maxAttempts, now),
        host_fault: unsafeState !== undefined || (state.lastFault === 'host' && (state.lastResult === 'failed' || state.lastResult === 'error')),
      };
    }),
  };
}

/** status must never change anything, not even move a corrupt state file aside. */
function readStateQuietly(stateDir: string, target: string, branch: string) {
  try {
    return readState(stateDir, target, branch, { readOnly: true });
  } catch (err) {
    return { state: { ...emptyState(target, branch), lastError: errorMessage(err) } };
  }
}

function retryStatus(state: TargetState, maxAttempts: number, now: Date) {
  const sha = state.remoteSha;
  const failures = sha && sha !== state.deployedSha ? state.failures[sha] : undefined;
  const verdict = retryVerdict(failures, maxAttempts, now);
  return {
    failed_attempts: failures?.attempts ?? 0,
    quarantined: verdict.verdict === 'quarantined',
    next_retry: verdict.verdict === 'wait' ? verdict.nextRetry : null,
  };
}

export function defineCommands(program: Command, _cli: CliContext): void {
  program
    .command('status')
    .description('where every target stands: deployed commit, last check, last result')
    .argument('[targets...]', 'target names (default: all)')
    .option('--json', 'machine-readable output (stable; see README)')
    .action(async (targets: string[], opts: { json?: boolean }, cmd: Command) => {
      const report = status(await configFrom(cmd, 'report'), targets);
      if (opts.json) out(JSON.stringify(report, null, 2));
      else for (const line of statusLines(report)) out(line);
    });
}
