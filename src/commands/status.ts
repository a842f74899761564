import type { Config } from '../config/normalise.js';
import { errorMessage } from '../errors.js';
import { emptyState, readState, type CycleResult } from '../state/store.js';
import { selectTargets } from './select.js';

/** One target as `status --json` shows it. Field names are a stable, documented contract. */
export interface TargetStatus {
  target: string;
  repo: string;
  branch: string;
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
}

export interface StatusReport {
  version: 1;
  config: string;
  targets: TargetStatus[];
}

export function status(config: Config, names: string[] = []): StatusReport {
  return {
    version: 1,
    config: config.file,
    targets: selectTargets(config, names).map((t) => {
      const { state } = readStateQuietly(config.stateDir, t.name, t.branch);
      return {
        target: t.name,
        repo: t.repo,
        branch: t.branch,
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
