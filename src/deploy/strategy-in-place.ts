/**
 * in-place: one working clone at `path`, moved to an exact commit by fetch + reset.
 * The reset is what goes live, so a failure afterwards is rolled back by resetting to
 * the previous commit and running the deploy script again.
 */
import type { Target } from '../config/normalise.js';
import { GitError } from '../errors.js';
import { fetchCommit, hasCommit, headCommit, isCheckout, resetTo } from '../git/checkout.js';
import { checkoutRepo, fetchLfsSound, fetchSound } from '../git/repair.js';
import { describeSubmodules, exportSubmodules, inspectCommit, removeGoneSubmodules, type SubmoduleCommit } from '../git/submodules.js';
import { log } from '../log/logger.js';
import type { Strategy } from './strategy.js';
import { requireRoomFor, unpackedBytes } from './disk.js';
import { treeSize } from '../git/tree-paths.js';

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : 'none');

export function inPlaceStrategy(target: Target, workDir: string): Strategy {
  const repo = checkoutRepo(target, workDir);
  const warn = (line: string) => log.warn(line, { target: target.name, step: 'submodules' });
  // What fetch found in the commit, for prepare to put on disk with it.
  let inspected: { sha: string; subs: SubmoduleCommit[] } | undefined;
  // Whether fetch made the checkout anew: the LFS download after it then gets clone_timeout.
  let cloned = false;
  const submodulesOf = async (sha: string): Promise<SubmoduleCommit[]> => {
    if (inspected?.sha !== sha) inspected = { sha, subs: await inspectCommit(target, target.path, sha, workDir, warn) };
    return inspected.subs;
  };
  /** After the checkout moved from `old` to `sha`: the submodules' files into their directories. */
  const checkOutSubmodules = async (sha: string, old: string | undefined): Promise<void> => {
    const subs = await submodulesOf(sha);
    // git leaves a removed submodule's directory alone once it has files (ours): remove it.
    if (target.submodules && old && old !== sha) await removeGoneSubmodules(target, old, sha);
    if (subs.length === 0) return;
    await exportSubmodules(target, subs, target.path, workDir);
    log.info(`submodules: ${describeSubmodules(subs)}`, { target: target.name, commit: sha, step: 'submodules' });
  };
  /** After a checkout of `sha` failed part way: `was` checked out again (logged either way; never throws). */
  const putBack = async (sha: string, was: string): Promise<void> => {
    const fields = { target: target.name, commit: was, step: 'reset' };
    try {
      await resetTo(target, was);
      log.warn(`checkout of ${short(sha)} failed part way: checked out ${short(was)} again`, fields);
    } catch (err) {
      log.error(`checkout of ${short(sha)} failed part way, and checking out ${short(was)} again failed too: ${err instanceof Error ? err.message : String(err)}`, fields);
    }
  };
  return {
    kind: 'in-place',
    repoDir: target.path,
    liveOnPrepare: true,
    recover: async () => [],
    liveCommit: () => headCommit(target),
    hasRepo: () => isCheckout(target.path),
    async fetch(sha, tag) {
      const how = await fetchSound(target, repo, sha, () => fetchCommit(target, sha, tag));
      cloned = how !== 'fetched';
      inspected = undefined;
      return how;
    },
    async inspect(sha) {
      await submodulesOf(sha);
      // After the signature check: an unverified commit's LFS objects are never downloaded.
      if (target.lfs) await fetchLfsSound(target, repo, sha, cloned);
    },
    async prepare(sha, state) {
      const onDisk = await headCommit(target);
      if (onDisk && state.deployedSha && onDisk !== state.deployedSha) {
        log.warn(`checkout was at ${short(onDisk)}, not the deployed ${short(state.deployedSha)}: local changes are discarded`, {
          target: target.name,
          step: 'reset',
        });
      }
      // Only growth is measured: the checkout replaces the files of the commit on disk.
      const grows = unpackedBytes(await treeSize(target, target.path, sha)) - (onDisk ? unpackedBytes(await treeSize(target, target.path, onDisk)) : 0);
      if (grows > 0) requireRoomFor(target.path, grows, target.minFreeSpaceBytes, target.name, `the checkout of ${short(sha)}`);
      try {
        await resetTo(target, sha);
      } catch (err) {
        // git moves HEAD and writes what it can before it reports a file it could not create
        // (a name too long for the filesystem): the live tree would stay half the new commit,
        // its script never run. Put the commit that was there back, then report the failure.
        if (onDisk) await putBack(sha, onDisk);
        throw err;
      }
      log.info(`checked out ${sha}`, { target: target.name, commit: sha, step: 'reset' });
      await checkOutSubmodules(sha, onDisk);
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
      const from = await headCommit(target);
      await resetTo(target, to.sha);
      log.info(`checked out ${to.sha} again`, { target: target.name, commit: to.sha, step: 'rollback' });
      await checkOutSubmodules(to.sha, from);
      const prepared = { sha: to.sha, dir: target.path };
      await rebuild(prepared);
      return prepared;
    },
    prune: async () => [],
  };
}
