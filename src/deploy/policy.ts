/**
 * The failure policy, pure: a commit that failed is retried after a growing delay
 * (5m, 15m, 45m, ... capped at 6h) until it has failed `max_attempts` times, then it is
 * quarantined until a new commit appears. A commit that never failed is tried at once.
 */
import type { Fault } from '../errors.js';
import type { CommitFailures } from '../state/store.js';

const FIRST_DELAY_MS = 5 * 60_000;
const MAX_DELAY_MS = 6 * 3_600_000;
/**
 * Cron starts cycles on the minute while an attempt is stamped a moment later, so a
 * retry due "in 5m" would otherwise wait for the cycle after; a cycle up to this much
 * early still counts as due.
 */
const EARLY_SLACK_MS = 60_000;

/** The wait after the `attempts`-th failure of a commit: 5m, 15m, 45m, 2h15m, ... at most 6h. */
export function backoffDelayMs(attempts: number): number {
  if (attempts < 1) return 0;
  return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 3 ** (attempts - 1));
}

export type RetryVerdict =
  | { verdict: 'try' }
  | { verdict: 'wait'; attempts: number; nextRetry: string }
  | { verdict: 'quarantined'; attempts: number };

export function retryVerdict(failures: CommitFailures | undefined, maxAttempts: number, now: Date): RetryVerdict {
  if (!failures || failures.attempts < 1) return { verdict: 'try' };
  if (failures.attempts >= maxAttempts) return { verdict: 'quarantined', attempts: failures.attempts };
  const delay = backoffDelayMs(failures.attempts);
  const due = Date.parse(failures.lastAttempt) + delay;
  const slack = Math.min(EARLY_SLACK_MS, delay / 10);
  if (Number.isNaN(due) || now.getTime() >= due - slack) return { verdict: 'try' };
  return { verdict: 'wait', attempts: failures.attempts, nextRetry: new Date(due).toISOString() };
}

/** The failures map after one more failed attempt at `sha`; only the newest few commits are kept. */
export function recordFailure(
  failures: Record<string, CommitFailures>,
  sha: string,
  attemptStarted: Date,
  error: string,
  keep = 10,
): Record<string, CommitFailures> {
  const previous = failures[sha];
  const next = { ...failures, [sha]: { attempts: (previous?.attempts ?? 0) + 1, lastAttempt: attemptStarted.toISOString(), lastError: error } };
  const newest = Object.entries(next)
    .sort(([, a], [, b]) => b.lastAttempt.localeCompare(a.lastAttempt))
    .slice(0, keep);
  return Object.fromEntries(newest);
}

/**
 * Whether a failed attempt counts against the commit. Only the commit's own faults do
 * (its build, its restart, its health check); a host fault (a non-executable deploy
 * script, a missing sudo rule, an unreachable service manager, an unwritable or full
 * directory) says nothing about the commit, so it neither backs off nor quarantines it:
 * the first run after the host is fixed deploys it, without --force.
 */
export function countsAgainstCommit(fault: Fault): boolean {
  return fault === 'commit';
}

/** The failures map after a failed attempt at `sha`: one more for a commit fault, unchanged for a host fault. */
export function afterFailedAttempt(
  failures: Record<string, CommitFailures>,
  sha: string,
  attemptStarted: Date,
  error: { message: string; fault: Fault },
): Record<string, CommitFailures> {
  return countsAgainstCommit(error.fault) ? recordFailure(failures, sha, attemptStarted, error.message) : failures;
}

/** A successful deploy of `sha` forgets its failures. */
export function clearFailures(failures: Record<string, CommitFailures>, sha: string): Record<string, CommitFailures> {
  const { [sha]: _dropped, ...rest } = failures;
  return rest;
}
