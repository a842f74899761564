/**
 * in-place: one working clone at `path`, moved to an exact commit by fetch + reset.
 * The reset is what goes live, so a failure afterwards is rolled back by resetting to
 * the previous commit and running the deploy script again.
 */
import type { Target } from '../config/normalise.js';
import { GitError } from '../errors.js';
import { fetchCommit, hasCommit, headCommit, isCheckout, resetTo } from '../git/checkout.js';
import { checkoutRepo, fetchSound } from '../git/repair.js';
import { log } from '../log/logger.js';
import type { Strategy } from './strategy.js';

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : 'none');

export function inPlaceStrategy(target: Target, workDir: string): Strategy {
  const repo = checkoutRepo(target, workDir);
  return {
    kind: 'in-place',
    repoDir: target.path,
    liveOnPrepare: true,
    recover: async () => [],
    liveCommit: () => headCommit(target),
    hasRepo: () => isCheckout(target.path),
    fetch: (sha, tag) => fetchSound(target, repo, sha, () => fetchCommit(target, sha, tag)),
    async prepare(sha, state) {
      const onDisk = await headCommit(target);
      if (onDisk && state.deployedSha && onDisk !== state.deployedSha) {
        log.warn(`checkout was at ${short(onDisk)}, not the deployed ${short(state.deployedSha)}: local changes are discarded`, {
          target: target.name,
          step: 'reset',
        });
      }
      await resetTo(target, sha);
      log.info(`checked out ${sha}`, { target: target.name, commit: sha, step: 'reset' });
      return { sha, dir: target.path };
    },
    discard: async () => undefined,
    activate: async () => undefined,
    async restore(to, rebuild) {
      if (!isCheckout(target.path) || !(await hasCommit(target, to.sha))) {
        throw new GitError(`commit ${short(to.sha)} is not in the checkout at ${target.path}`, {
          target: target.name,
          hint: 'name a commit that was deployed before (pollpray history shows them)',
        });
      }
      await resetTo(target, to.sha);
      log.info(`checked out ${to.sha} again`, { target: target.name, commit: to.sha, step: 'rollback' });
      const prepared = { sha: to.sha, dir: target.path };
      await rebuild(prepared);
      return prepared;
    },
    prune: async () => [],
  };
}
