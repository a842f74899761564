/**
 * Paths a commit may not carry. Whoever can push can build a tree git itself would never
 * `git add`: an entry `.git/config`, `sub/.git/hooks/x`, `.GIT`. Checked out or unpacked
 * such a path is a repository configuration (hooks, core.fsmonitor) that the next git
 * command in that directory runs, so git refuses it (`invalid path`), and so does
 * pollpray, before anything is written: as the commit's fault, counted against it, never
 * as a damaged local repository.
 *
 * The names refused are git's own (verify_path with core.protectNTFS, on by default):
 * `.git` in any case, with trailing dots or spaces (NTFS drops them), an NTFS stream
 * (`.git::$INDEX_ALLOCATION`) or a backslash after it, its 8.3 alias `git~1`, and `.` / `..`. On Linux a case-insensitive filesystem (ext4 casefold, vfat,
 * CIFS) makes `.GIT` the same directory as `.git`.
 */
import type { Target } from '../config/normalise.js';
import { CommitContentError, GitError } from '../errors.js';
import { git } from './git.js';

export function isForbiddenName(name: string): boolean {
  // git's is_ntfs_dotgit: the name, then dots or spaces, then the end, an NTFS stream (`:`) or a separator (`\`).
  return name === '' || name === '.' || name === '..' || /^(?:\.git|git~1)[. ]*(?:$|[:\\])/i.test(name);
}

/** The first component of `path` that is forbidden, or undefined. */
export function forbiddenComponent(path: string): string | undefined {
  return path.split('/').find(isForbiddenName);
}

/** Undoes git's C-style quoting of an unusual path (`"a\\tb"`, octal bytes for UTF-8). */
export function unquoteGitPath(line: string): string {
  if (!(line.length >= 2 && line.startsWith('"') && line.endsWith('"'))) return line;
  const bytes: number[] = [];
  const body = Buffer.from(line.slice(1, -1), 'utf8');
  const simple: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as number;
    if (c !== 92) {
      bytes.push(c);
      continue;
    }
    const next = String.fromCharCode(body[i + 1] ?? 0);
    if (/[0-7]/.test(next)) {
      bytes.push(parseInt(body.subarray(i + 1, i + 4).toString('latin1'), 8));
      i += 3;
    } else {
      bytes.push(simple[next] ?? (body[i + 1] as number));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

export function refusedPath(target: string, sha: string, path: string): CommitContentError {
  return new CommitContentError(`commit ${sha.slice(0, 12)} contains ${path}: git refuses to check out such a path and pollpray does not deploy it`, {
    target,
    hint: `remove ${path} from the repository (git rm -r --cached) and push a new commit`,
  });
}

/**
 * Lists every path of `sha` (trees too: an empty `.git` directory counts) and throws
 * CommitContentError naming the first forbidden one. A listing git cannot produce is
 * a local problem (GitError), which the caller's repair path checks with git fsck.
 */
export async function refuseForbiddenPaths(target: Target, repoDir: string, sha: string): Promise<void> {
  let found: string | undefined;
  let settled = false;
  const result = await git(['-c', 'core.quotePath=false', 'ls-tree', '-r', '-t', '--full-tree', '--name-only', sha], {
    cwd: repoDir,
    target,
    // Only the verdict matters: the listing itself may be megabytes.
    maxOutput: 4096,
    onLine: (line, stream) => {
      if (stream !== 'stdout' || settled) return;
      const path = unquoteGitPath(line);
      if (found === undefined) {
        if (forbiddenComponent(path) !== undefined) found = path;
        // A tree comes before its entries: name the first file in it (.git/config, not .git).
      } else if (path.startsWith(`${found}/`)) {
        found = path;
      } else {
        settled = true;
      }
    },
  });
  if (found !== undefined) throw refusedPath(target.name, sha, found);
  if (result.exitCode !== 0 || result.timedOut) {
    const last = result.stderr.trim().split('\n').filter(Boolean).pop() ?? result.spawnError ?? (result.timedOut ? 'timed out' : 'no output');
    throw new GitError(`cannot list commit ${sha.slice(0, 12)} in ${repoDir}: ${last}`, {
      target: target.name,
      hint: 'the local repository may be damaged; check the disk (dmesg) and run pollpray again, which checks it with git fsck',
    });
  }
}
