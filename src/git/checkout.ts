/**
 * The in-place strategy: a working clone at `path`, moved to an exact commit with
 * fetch + `checkout --force -B <branch> <sha>`. Never a merge or pull, so a force-pushed branch is
 * followed to the exact remote commit and local edits cannot produce a conflict.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Target } from '../config/normalise.js';
import { GitError } from '../errors.js';
import { isFullSha } from './ref-name.js';
import { fetchTracked, lfsConfig } from './fetch.js';
import { git, gitOrThrow } from './git.js';
import { removeStaleIndexLock } from './stale-lock.js';
import { splitRepoCredentials } from './repo-credentials.js';
import { log } from '../log/logger.js';

export function isCheckout(path: string): boolean {
  return existsSync(`${path}/.git`);
}

/**
 * Fetches the branch (or, for a tag target, the tag) so that `sha` is present
 * locally; clones when `path` has no checkout.
 */
export async function fetchCommit(target: Target, sha: string, tag?: string): Promise<'cloned' | 'fetched'> {
  if (!isCheckout(target.path)) {
    if (existsSync(target.path) && readdirSync(target.path).length > 0) {
      throw new GitError(`path ${target.path} exists but is not a git checkout`, {
        target: target.name,
        hint: 'move its contents away (pollpray clones into an empty or absent directory) or point path elsewhere',
      });
    }
    mkdirSync(target.path, { recursive: true });
    // init + fetch of the one tracked ref is the clone: `git clone` would take every
    // branch and tag (1,008 tags of git.git into a 305 MB .git).
    await gitOrThrow(['init', '--quiet', `--initial-branch=${target.branch}`, '--', target.path], { cwd: dirname(target.path), target }, 'init');
  } else {
    removeStaleIndexLock(target.path, target.name);
    await forgetStoredCredentials(target);
  }
  // `+` on the tag too: a re-pointed tag is followed like a force-pushed branch.
  const refspec = tag === undefined ? `+refs/heads/${target.branch}:refs/remotes/origin/${target.branch}` : `+refs/tags/${tag}:refs/tags/${tag}`;
  const first = await fetchTracked(target, target.path, refspec);
  if (!(await hasCommit(target, sha))) {
    throw new GitError(`commit ${sha.slice(0, 12)} is not on ${tag ?? target.branch} after fetching`, {
      target: target.name,
      hint: 'the branch moved during the fetch; the next run will pick up the new head',
    });
  }
  // LFS objects are fetched later, after the signature check (fetchLfsSound).
  return first ? 'cloned' : 'fetched';
}

/**
 * A checkout cloned before credentials were kept off command lines (or by hand) may
 * hold them in .git/config's remote URL, inside a directory that is often served:
 * replaced by the bare URL. Only for targets whose URL carries credentials.
 */
async function forgetStoredCredentials(target: Target): Promise<void> {
  if (!target.repoCredentials) return;
  const stored = await git(['config', '--get', 'remote.origin.url'], { cwd: target.path, target });
  if (stored.exitCode !== 0 || !splitRepoCredentials(stored.stdout.trim()).credentials) return;
  await gitOrThrow(['config', 'remote.origin.url', target.repo], { cwd: target.path, target }, 'config');
  log.info('removed the credentials stored in the checkout\'s remote URL (git gets them from its environment now)', { target: target.name, step: 'fetch' });
}

/**
 * The longest subject kept. Whoever pushes chooses its length, and it goes into the deploy
 * script's environment (POLLPRAY_SUBJECT), where Linux refuses one string over 128 KiB
 * (E2BIG: the script would never start, a fault no fix of the host could end), and into
 * state, every history line and the log.
 */
export const MAX_SUBJECT_CHARS = 1000;

/**
 * `%s` prints one line, but run() also ends a line at a lone CR, so a subject holding
 * one would come back as two lines: a second line a pusher wrote, in the log and in
 * `history`. Joined back with the CR, the redactor shows it as ^M. Cut to
 * MAX_SUBJECT_CHARS, the last of them `…`, never half a UTF-16 pair.
 */
function subjectOf(lines: readonly string[]): string {
  const subject = lines.join('\r').trim();
  if (subject.length <= MAX_SUBJECT_CHARS) return subject;
  const cut = subject.slice(0, MAX_SUBJECT_CHARS - 1);
  return `${/[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut}…`;
}

/**
 * `git log -1 --format=%s <rev>`'s lines, from the first: run() keeps the tail of a long
 * output, and of a subject the start is what a reader needs.
 */
async function readSubject(target: Target, rev: string, repoDir: string): Promise<string | undefined> {
  const lines: string[] = [];
  let kept = 0;
  const result = await git(['log', '-1', '--format=%s', rev], {
    cwd: repoDir,
    target,
    maxOutput: 4096,
    onLine: (line, stream) => {
      if (stream !== 'stdout' || kept > MAX_SUBJECT_CHARS) return;
      lines.push(line.slice(0, MAX_SUBJECT_CHARS + 1));
      kept += line.length + 1;
    },
  });
  return result.exitCode === 0 ? subjectOf(lines) : undefined;
}

/**
 * Subjects of the commits hasCommit found. A commit id fixes the commit's content, so
 * the deploy that checked a commit after its fetch needs no second git call for the
 * subject it records.
 */
const subjects = new Map<string, string>();

/** `repoDir` is where the history lives: the checkout (in-place) or the mirror (releases). */
export async function hasCommit(target: Target, sha: string, repoDir = target.path): Promise<boolean> {
  const subject = await readSubject(target, `${sha}^{commit}`, repoDir);
  if (subject === undefined) return false;
  // `pollpray daemon` lives for months: only the current cycles' commits are worth keeping.
  if (subjects.size >= 256) subjects.clear();
  subjects.set(sha, subject);
  return true;
}

/**
 * True when `descendant` contains `ancestor`; false means history was rewritten (force
 * push). An ancestor the repo does not have (gone with a rewrite) is not contained
 * either: merge-base exits 128 for it, so no separate presence check is needed.
 */
export async function isAncestor(target: Target, ancestor: string, descendant: string, repoDir = target.path): Promise<boolean> {
  const result = await git(['merge-base', '--is-ancestor', ancestor, descendant], { cwd: repoDir, target });
  return result.exitCode === 0;
}

/** Moves the checkout (and its local branch) to exactly `sha`, discarding local edits to tracked files. */
export async function resetTo(target: Target, sha: string): Promise<void> {
  if (!isFullSha(sha)) throw new GitError(`refusing to move to ${sha}: not a full commit id`, { target: target.name });
  // A tag target has no branch to keep up: its checkout is detached at the tag's commit.
  // --force already does what `reset --hard` would: index and tracked files become
  // exactly `sha`, local edits and local commits are dropped (untracked files stay).
  const where = target.tags === undefined ? ['-B', target.branch] : ['--detach'];
  await applySparse(target, sha);
  await gitOrThrow([...(await lfsConfig(target, target.path, sha)), 'checkout', '--force', ...where, sha], { cwd: target.path, target }, 'checkout');
}

/**
 * `paths`: a sparse checkout of exactly those paths (non-cone patterns anchored at the
 * root, so `site/` is the top-level site/ and nothing else). Without paths, a checkout
 * made sparse before is made whole again.
 *
 * Both write the files a widened `paths` adds, at the commit still checked out: with the
 * LFS filter, as every git call that writes LFS files gets it. Without it they would be
 * written as pointers, and the checkout --force that follows leaves a file it considers
 * unchanged as it is.
 */
async function applySparse(target: Target, sha: string): Promise<void> {
  const call = { cwd: target.path, target };
  if (target.paths.length > 0) {
    await gitOrThrow([...(await lfsConfig(target, target.path, sha)), 'sparse-checkout', 'set', '--no-cone', '--', ...target.paths.map((p) => `/${p}`)], call, 'sparse-checkout');
  } else if (existsSync(join(target.path, '.git', 'info', 'sparse-checkout'))) {
    await gitOrThrow([...(await lfsConfig(target, target.path, sha)), 'sparse-checkout', 'disable'], call, 'sparse-checkout');
  }
}

export async function headCommit(target: Target): Promise<string | undefined> {
  if (!isCheckout(target.path)) return undefined;
  const result = await git(['rev-parse', '--verify', 'HEAD^{commit}'], { cwd: target.path, target });
  const sha = result.stdout.trim();
  return result.exitCode === 0 && isFullSha(sha) ? sha : undefined;
}

export async function commitSubject(target: Target, sha: string, repoDir = target.path): Promise<string | undefined> {
  const known = subjects.get(sha);
  if (known !== undefined) return known;
  return readSubject(target, sha, repoDir);
}
