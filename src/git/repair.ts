/**
 * The clones pollpray owns (an in-place checkout's .git, a releases target's mirror) can
 * rot: a disk error, a crash during a write, someone's `rm`. git then fails part way,
 * and a checkout fails after it has already rewritten some of the live files: it writes
 * files until the first object it cannot read. So the fetch step ends by reading every
 * object of the new commit once, before anything live is touched. When git cannot read
 * the repository, `git fsck` decides whether it is corrupt; a corrupt one is moved aside
 * and fetched again from the remote, which has everything it held that matters.
 *
 * A commit git refuses for its content (a `.git` path, see tree-paths.ts) is not
 * damage: it is reported as the commit's fault and never sent to fsck.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Target } from '../config/normalise.js';
import { CommitContentError, GitError, PollprayError, SshError } from '../errors.js';
import { requireOwnedByMe } from '../host/ownership.js';
import { log } from '../log/logger.js';
import { cloneCall, fetchLfsObjects } from './fetch.js';
import { git, gitOrThrow } from './git.js';
import { archiveArgv, isDiskFull, pinExportAttributes } from './mirror.js';
import { knownTreeFacts, refuseForbiddenPaths, refusedPath } from './tree-paths.js';
import { archiveBytes, lfsBytes, requireRoomFor, roomFor } from '../deploy/disk.js';

export type Fetched = 'cloned' | 'fetched' | 're-cloned';

/** A local repository pollpray owns and can rebuild from the remote. */
export interface OwnedRepo {
  /** For log lines: "checkout at /srv/app", "mirror". */
  label: string;
  /** Where git runs: the working tree or the bare repository. */
  dir: string;
  /** Its git directory: `<dir>/.git` or `dir` itself. */
  gitDir: string;
  /** Where a corrupt copy is kept for a post-mortem (one at a time). */
  quarantine: string;
  /** Makes `gitDir` an empty repository again once the corrupt one is gone. */
  recreate(): Promise<void>;
  /** The config key naming it, for messages. */
  key: string;
}

/** The checkout of an in-place target: only its .git is replaced, so untracked files (uploads, .env) stay. */
export function checkoutRepo(target: Target, workDir: string): OwnedRepo {
  return {
    label: `checkout at ${target.path}`,
    dir: target.path,
    gitDir: join(target.path, '.git'),
    quarantine: join(workDir, 'corrupt-checkout.git'),
    key: `targets.${target.name}.path`,
    async recreate() {
      await gitOrThrow(['init', '--quiet', `--initial-branch=${target.branch}`, '--', target.path], { cwd: target.path, target }, 'init');
    },
  };
}

/** A releases target's bare mirror: fetchIntoMirror creates it again when it is absent. */
export function mirrorRepo(mirror: string): OwnedRepo {
  return { label: 'mirror', dir: mirror, gitDir: mirror, quarantine: `${mirror}.corrupt`, key: 'state_dir', recreate: async () => undefined };
}

/**
 * Runs `fetch` (which makes `sha` present in `repo`) on a sound repository and then
 * reads `sha` whole. A repository git no longer recognises is replaced first; one that
 * fails the fetch or the read and then `git fsck` is replaced and fetched again, once.
 */
export async function fetchSound(target: Target, repo: OwnedRepo, sha: string, fetchOnly: () => Promise<'cloned' | 'fetched'>, keepRead?: string): Promise<Fetched> {
  const fetch = async () => {
    const how = await fetchOnly();
    await refuseForbiddenPaths(target, repo.dir, sha);
    // A partial clone downloads the commit's blobs here: after a clone, that is the whole tree.
    // Without its LFS files: with verify this runs before the signature check, and git-lfs
    // would download each object an unsigned commit names (fetchLfsSound reads them later).
    await readWhole(target, repo, sha, how === 'cloned', target.lfs ? undefined : keepRead, false);
    return how;
  };
  let replaced = false;
  if (existsSync(repo.gitDir) && !(await isRepository(target, repo))) {
    await replace(target, repo, 'git does not recognise it as a repository (HEAD or config missing)');
    replaced = true;
  }
  try {
    const how = await fetch();
    return replaced ? 're-cloned' : how;
  } catch (err) {
    // The remote or the network failed, the commit's own tree was refused, or the host (a
    // directory pollpray may not write, a full disk, another user's repository), not the
    // clone: nothing to repair here.
    if (replaced || err instanceof SshError || err instanceof CommitContentError || (err instanceof PollprayError && err.fault === 'host') || !existsSync(repo.gitDir)) throw err;
    const problem = await fsckProblem(target, repo);
    if (!problem) throw err;
    await replace(target, repo, problem);
    await fetch();
    return 're-cloned';
  }
}

/**
 * With `lfs`: downloads the LFS objects `sha` needs (within the target's paths) and reads the
 * commit whole again, its LFS files produced this time, so a missing object fails here and
 * not inside the live checkout. Strategy.inspect calls it, after the signature check: an
 * unverified commit makes git-lfs download nothing. `first`: the fetch was the clone
 * (clone_timeout). `keepRead` as in fetchSound.
 */
export async function fetchLfsSound(target: Target, repo: OwnedRepo, sha: string, first: boolean, keepRead?: string): Promise<void> {
  // What the download writes into the LFS store (the objects not there yet), at the size the
  // commit's pointers state: a pointer of 130 bytes can name an object of terabytes.
  const missing = (knownTreeFacts(repo.dir, sha)?.size?.lfs ?? []).filter((o) => !existsSync(join(repo.gitDir, 'lfs', 'objects', o.oid.slice(0, 2), o.oid.slice(2, 4), o.oid)));
  if (missing.length) requireRoomFor(repo.gitDir, lfsBytes(missing), target.minFreeSpaceBytes, target.name, `the Git LFS objects of ${sha.slice(0, 12)}`);
  await fetchLfsObjects(target, repo.dir, sha, first);
  await readWhole(target, repo, sha, first, keepRead, true);
}

/**
 * Reads every file of `sha` (git archive to /dev/null): an unreadable object fails here, not inside the live checkout.
 * `keepRead`: the archive goes to that file instead (archiveArgv, as exportCommit writes it),
 * so the release's export unpacks it rather than reading the commit again.
 * `lfs`: LFS files are produced by git-lfs (target with lfs only), else read as their pointers.
 */
async function readWhole(target: Target, repo: OwnedRepo, sha: string, first: boolean, keepRead: string | undefined, lfs: boolean): Promise<void> {
  const dir = repo.dir;
  // The archive kept for the export is written to the state dir: when it would not fit there
  // (min_free_space left over), the read goes to /dev/null and the export refuses it (exportCommit).
  if (keepRead !== undefined && !roomFor(keepRead, archiveBytes(knownTreeFacts(dir, sha)?.size), target.minFreeSpaceBytes)) keepRead = undefined;
  // git archive obeys the commit's export-ignore: a file it marks would go unread here and be
  // found damaged only by the checkout, half-way through the live tree. Its .git is pollpray's.
  pinExportAttributes(repo.gitDir);
  // Only the target's paths: reading the rest would download all of a sparse monorepo's blobs.
  // With lfs, git-lfs produces every LFS file too, so a missing object fails here.
  const result = await git(await archiveArgv(target, dir, sha, keepRead ?? '/dev/null', target.paths, lfs), cloneCall(target, dir, first));
  if (keepRead !== undefined && (result.exitCode !== 0 || result.timedOut)) {
    rmSync(keepRead, { force: true });
    // The kept archive is written to state_dir, which /dev/null never filled: a full disk is the host's, not a damaged repository.
    if (isDiskFull(result.stderr)) {
      throw new GitError(`no space left on device (ENOSPC) writing the archive of ${sha.slice(0, 12)}: ${result.stderr.trim().split('\n').filter(Boolean).pop() ?? ''}`, {
        target: target.name,
        hint: 'free space in state_dir (old logs) or lower keep_releases; the deployed commit stays',
        fault: 'host',
      });
    }
  }
  if (result.timedOut) {
    throw new GitError(`reading commit ${sha.slice(0, 12)} did not finish within ${first ? 'clone_timeout' : 'git_timeout'} and was killed`, {
      target: target.name,
      hint: `raise ${first ? 'clone_timeout' : 'git_timeout'} for a large repository (a partial clone downloads the commit's files here)`,
    });
  }
  if (result.exitCode === 0) return;
  // A path git will not write (its rules may grow beyond tree-paths.ts): the commit's content, not the disk.
  const invalid = /^error: invalid path '(.+)'$/m.exec(result.stderr)?.[1];
  if (invalid !== undefined) throw refusedPath(target.name, sha, invalid);
  const last = result.stderr.trim().split('\n').filter(Boolean).pop() ?? result.spawnError ?? 'no output';
  if (/from promisor remote/.test(result.stderr)) {
    throw new GitError(`downloading the files of commit ${sha.slice(0, 12)} into the partial clone failed: ${last}`, {
      target: target.name,
      hint: 'the server must serve objects by id to a partial clone (protocol v2 over ssh, i.e. sshd AcceptEnv GIT_PROTOCOL, or uploadpack.allowAnySHA1InWant), or remove clone.filter',
    });
  }
  throw new GitError(`cannot read commit ${sha.slice(0, 12)} whole in ${dir}: ${last}`, {
    target: target.name,
    hint: 'the local repository may be damaged; check the disk (dmesg) and run pollpray again, which checks it with git fsck',
  });
}

async function isRepository(target: Target, repo: OwnedRepo): Promise<boolean> {
  const result = await git(['rev-parse', '--absolute-git-dir'], { cwd: repo.dir, target });
  return result.exitCode === 0 && resolve(result.stdout.trim()) === resolve(repo.gitDir);
}

/** The first thing `git fsck` finds wrong, or undefined when the repository is sound. */
async function fsckProblem(target: Target, repo: OwnedRepo): Promise<string | undefined> {
  const result = await git(['fsck', '--no-progress', '--no-dangling', '--no-reflogs'], { cwd: repo.dir, target });
  // Too big to check within git_timeout counts as sound: the original failure is reported instead.
  if (result.exitCode === 0 || result.timedOut) return undefined;
  const lines = `${result.stderr}\n${result.stdout}`.split('\n').map((l) => l.trim());
  return lines.find((l) => l && !l.startsWith('notice:')) ?? `git fsck exited ${result.exitCode}`;
}

/**
 * Moves the corrupt repository aside (or deletes it when that cannot be done in place) and starts an empty one.
 * Never one another user owns: git refuses such a repository ("dubious ownership"), which
 * is no corruption, and moving it would leave the owner an empty repository of ours.
 */
async function replace(target: Target, repo: OwnedRepo, problem: string): Promise<void> {
  for (const path of [repo.dir, repo.gitDir]) requireOwnedByMe(repo.label, path, repo.key, target.name);
  rmSync(repo.quarantine, { recursive: true, force: true });
  let kept = true;
  try {
    renameSync(repo.gitDir, repo.quarantine);
  } catch {
    // Another filesystem (EXDEV) or no write access there: the remote holds the history anyway.
    rmSync(repo.gitDir, { recursive: true, force: true });
    kept = false;
  }
  log.warn(
    `${repo.label} is corrupt (${problem}): ${kept ? `moved it aside to ${repo.quarantine}` : 'removed it'} and fetching it again from the remote`,
    { target: target.name, step: 'repair' },
  );
  await repo.recreate();
}
