/**
 * The pure core of a cycle: what to do given the remote head, the target's state and
 * the flags. Table-tested in test/unit/decide.test.ts without git.
 */
import type { TargetState } from '../state/store.js';

export type Plan =
  | { action: 'unchanged' }
  | { action: 'skip'; reason: 'paused' }
  | { action: 'deploy'; reason: 'first-deploy' | 'new-commit' | 'retry' | 'forced' };

export interface DecideInput {
  remoteSha: string;
  state: TargetState;
  force: boolean;
}

export function decide({ remoteSha, state, force }: DecideInput): Plan {
  if (state.paused && !force) return { action: 'skip', reason: 'paused' };
  if (force) return { action: 'deploy', reason: 'forced' };
  if (state.deployedSha === null) return { action: 'deploy', reason: 'first-deploy' };
  if (remoteSha !== state.deployedSha) {
    const retrying = state.lastResult === 'failed' && state.remoteSha === remoteSha;
    return { action: 'deploy', reason: retrying ? 'retry' : 'new-commit' };
  }
  // Same commit as deployed: only a failed last attempt at this very commit would
  // justify work, and that is a retry of the deploy, not of the fetch.
  return { action: 'unchanged' };
}

export type ForcePushAction = 'follow' | 'refuse';

/** A new head that does not contain the deployed commit means history was rewritten. */
export function onHistoryRewrite(containsDeployed: boolean, policy: 'follow' | 'refuse'): ForcePushAction {
  return containsDeployed ? 'follow' : policy;
}
