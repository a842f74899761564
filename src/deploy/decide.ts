/**
 * The pure core of a cycle: what to do given the remote head, the target's state and
 * the flags. Table-tested in test/unit/decide.test.ts without git.
 */
import type { TargetState } from '../state/store.js';
import { retryVerdict } from './policy.js';

export type Plan =
  | { action: 'unchanged' }
  | { action: 'skip'; reason: 'paused' }
  | { action: 'skip'; reason: 'quarantined'; attempts: number }
  | { action: 'skip'; reason: 'backoff'; attempts: number; nextRetry: string }
  | { action: 'deploy'; reason: 'first-deploy' | 'new-commit' | 'retry' | 'forced' };

export interface DecideInput {
  remoteSha: string;
  state: TargetState;
  force: boolean;
  /** Failures of one commit before it is quarantined (the target's max_attempts). */
  maxAttempts?: number;
  now?: Date;
}

export function decide({ remoteSha, state, force, maxAttempts = 3, now = new Date() }: DecideInput): Plan {
  if (state.paused && !force) return { action: 'skip', reason: 'paused' };
  if (force) return { action: 'deploy', reason: 'forced' };
  if (remoteSha === state.deployedSha) {
    // Same commit as deployed: nothing to do. A failed attempt at another commit that
    // was rolled back leaves deployedSha on the good one, so this stays quiet.
    return { action: 'unchanged' };
  }
  // state.failures holds only the commit's own faults (policy.ts afterFailedAttempt): a
  // host fault last time leaves none, so the commit is tried again at once.
  const verdict = retryVerdict(state.failures[remoteSha], maxAttempts, now);
  if (verdict.verdict === 'quarantined') return { action: 'skip', reason: 'quarantined', attempts: verdict.attempts };
  if (verdict.verdict === 'wait') return { action: 'skip', reason: 'backoff', attempts: verdict.attempts, nextRetry: verdict.nextRetry };
  if (state.failures[remoteSha]) return { action: 'deploy', reason: 'retry' };
  if (state.deployedSha === null) return { action: 'deploy', reason: 'first-deploy' };
  return { action: 'deploy', reason: 'new-commit' };
}

export type ForcePushAction = 'follow' | 'refuse';

/** A new head that does not contain the deployed commit means history was rewritten. */
export function onHistoryRewrite(containsDeployed: boolean, policy: 'follow' | 'refuse'): ForcePushAction {
  return containsDeployed ? 'follow' : policy;
}
