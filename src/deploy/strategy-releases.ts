/**
 * releases: each deploy exports the exact commit from a bare mirror (in the state dir)
 * into a new `releases/<time>-<sha12>`, links the shared paths, lets the deploy script
 * build there, marks it complete and switches `current` to it atomically. Rolling back
 * is switching `current` to the previous release: its build is still on disk.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Target } from '../config/normalise.js';
import { EnvironmentError, GitError } from '../errors.js';
import { exportCommit, exportTarFile, fetchIntoMirror, mirrorDir, removeAbandonedExports } from '../git/mirror.js';
import { fetchLfsSound, fetchSound, mirrorRepo } from '../git/repair.js';
import { describeSubmodules, exportSubmodules, inspectCommit, type SubmoduleCommit } from '../git/submodules.js';
import { log } from '../log/logger.js';
import type { TargetState } from '../state/store.js';
import { requireFreeSpace, requireRoomFor, unpackedBytes } from './disk.js';
import { knownTreeFacts } from '../git/tree-paths.js';
import {
  currentRelease,
  linkShared,
  listReleases,
  releaseName,
  releasesDir,
  releasesToPrune,
  removePartialReleases,
  removeRelease,
  switchCurrent,
  readRecord,
  writeRecord,
} from './releases.js';
import type { Strategy } from './strategy.js';

export function releasesStrategy(target: Target, workDir: string): Strategy {
  const mirror = mirrorDir(workDir);
  const fields = { target: target.name };
  const warn = (line: string) => log.warn(line, { ...fields, step: 'submodules' });
  // What fetch found in the commit, for prepare to export with it.
  let inspected: { sha: string; subs: SubmoduleCommit[] } | undefined;
  // The commit whose archive fetch left in exportTarFile(workDir), for prepare to unpack.
  let read: string | undefined;
  // Whether fetch made the mirror anew: the LFS download after it then gets clone_timeout.
  let cloned = false;
  const submodulesOf = async (sha: string): Promise<SubmoduleCommit[]> => {
    if (inspected?.sha !== sha) inspected = { sha, subs: await inspectCommit(target, mirror, sha, workDir, warn) };
    return inspected.subs;
  };
  return {
    kind: 'releases',
    repoDir: mirror,
    liveOnPrepare: false,
    async recover() {
      removeAbandonedExports(workDir);
      // A cycle that stopped between fetch and prepare (refused, unverified) left its read archive.
      rmSync(exportTarFile(workDir), { force: true });
      read = undefined;
      const { removed, adopted, unusable } = removePartialReleases(target.path, target.name);
      if (unusable) log.warn(`left unfinished releases in place: ${unusable}`, { ...fields, step: 'recover' });
      if (adopted.length) log.info(`recorded ${adopted.length} release${adopted.length === 1 ? '' : 's'} of the old layout as complete: ${adopted.join(', ')}`, { ...fields, step: 'recover' });
      for (const name of removed) log.warn(`removed unfinished release ${name} left by an interrupted run`, { ...fields, step: 'recover' });
      return removed;
    },
    async liveCommit() {
      const name = currentRelease(target.path);
      return name ? readRecord(target.path, name)?.sha : undefined;
    },
    hasRepo: () => existsSync(join(mirror, 'HEAD')),
    async fetch(sha, tag) {
      // The read of the whole commit after the fetch keeps its archive: prepare unpacks it
      // instead of archiving the same commit a second time. With lfs that is the read after
      // the LFS download (inspect), the one whose archive holds the LFS files.
      read = undefined;
      const how = await fetchSound(target, mirrorRepo(mirror), sha, () => fetchIntoMirror(target, mirror, sha, tag), exportTarFile(workDir));
      cloned = how !== 'fetched';
      if (!target.lfs) read = sha;
      inspected = undefined;
      return how;
    },
    async inspect(sha) {
      await submodulesOf(sha);
      if (target.lfs) {
        // After the signature check: an unverified commit's LFS objects are never downloaded.
        read = undefined;
        await fetchLfsSound(target, mirrorRepo(mirror), sha, cloned, exportTarFile(workDir));
        read = sha;
      }
    },
    async prepare(sha) {
      requireFreeSpace(target.path, target.minFreeSpaceBytes, target.name);
      // What the commit (and its submodules) unpack to must fit too, min_free_space left over.
      const subs = await submodulesOf(sha);
      const need = [{ dir: mirror, sha }, ...subs.map((s) => ({ dir: s.mirror, sha: s.sha }))].reduce((n, t) => n + unpackedBytes(knownTreeFacts(t.dir, t.sha)?.size), 0);
      requireRoomFor(target.path, need, target.minFreeSpaceBytes, target.name, `a release of ${sha.slice(0, 12)}`);
      const name = releaseName(sha, new Date());
      const dir = join(releasesDir(target.path), name);
      mkdirSync(dir, { recursive: true });
      try {
        const alreadyRead = read === sha;
        read = undefined;
        await exportCommit(target, mirror, sha, dir, workDir, target.paths, alreadyRead);
        // Releases hold no .git: each submodule's files are exported into it like the commit's.
        await exportSubmodules(target, subs, dir, workDir);
        if (subs.length) log.info(`submodules: ${describeSubmodules(subs)}`, { ...fields, commit: sha, step: 'submodules' });
        for (const note of linkShared(target.path, dir, target.shared, target.name)) log.info(note, { ...fields, commit: sha, step: 'shared' });
      } catch (err) {
        // The caller never gets this release to discard; on a full disk it holds the space the next run needs.
        removeRelease(target.path, name);
        throw err;
      }
      log.info(`release ${name} prepared`, { ...fields, commit: sha, step: 'release' });
      return { sha, dir, release: name };
    },
    async discard(prepared) {
      if (prepared.release) removeRelease(target.path, prepared.release);
    },
    async activate(prepared) {
      if (!prepared.release) throw new GitError('internal: nothing prepared to switch to', fields);
      writeRecord(target.path, prepared.release, prepared.sha, new Date(), target.name);
      switchCurrent(target.path, prepared.release, target.name);
      log.info(`current -> releases/${prepared.release}`, { ...fields, commit: prepared.sha, step: 'switch' });
    },
    async restore(to) {
      const release = to.release
        ? listReleases(target.path).find((r) => r.name === to.release)
        : listReleases(target.path).reverse().find((r) => r.sha === to.sha);
      if (!release) {
        throw new EnvironmentError(`no complete release of ${to.release ?? to.sha.slice(0, 12)} in ${releasesDir(target.path)}`, {
          target: target.name,
          hint: 'pollpray history shows the releases; pruned ones can only be deployed again (git revert and push)',
        });
      }
      switchCurrent(target.path, release.name, target.name);
      log.info(`current -> releases/${release.name} (rollback)`, { ...fields, commit: release.sha, step: 'rollback' });
      return { sha: release.sha, dir: release.dir, release: release.name };
    },
    async prune(state: TargetState) {
      const current = currentRelease(target.path);
      const protect = new Set([current, state.previousRelease, state.currentRelease].filter((n): n is string => !!n));
      const doomed = releasesToPrune(listReleases(target.path).map((r) => r.name), target.keepReleases, protect);
      for (const name of doomed) removeRelease(target.path, name);
      if (doomed.length) log.info(`pruned ${doomed.length} old release${doomed.length === 1 ? '' : 's'}: ${doomed.join(', ')}`, { ...fields, step: 'prune' });
      return doomed;
    },
  };
}

