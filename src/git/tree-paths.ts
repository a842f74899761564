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

/** Linux's NAME_MAX: no filesystem it mounts creates a longer file name (in bytes). */
const NAME_MAX = 255;

/** Whether a component of `path` is longer than any file name this host can create. */
export function tooLongName(path: string): boolean {
  return path.split('/').some((part) => Buffer.byteLength(part) > NAME_MAX);
}

export function refusedPath(target: string, sha: string, path: string): CommitContentError {
  if (tooLongName(path)) {
    return new CommitContentError(`commit ${sha.slice(0, 12)} contains ${path}: a file name longer than ${NAME_MAX} bytes, which no Linux filesystem can create; pollpray does not deploy it`, {
      target,
      hint: `rename it in the repository (git mv) and push a new commit`,
    });
  }
  return new CommitContentError(`commit ${sha.slice(0, 12)} contains ${path}: git refuses to check out such a path and pollpray does not deploy it`, {
    target,
    hint: `remove ${path} from the repository (git rm -r --cached) and push a new commit`,
  });
}

/** A gitlink (submodule commit) of a tree listing. */
export interface TreeGitlink {
  path: string;
  sha: string;
}

/** What the forbidden-path listing also saw of a commit's tree, for the content checks after it. */
export interface TreeFacts {
  /** Every gitlink of the whole tree (not yet narrowed to the target's paths). */
  gitlinks: TreeGitlink[];
  /** Whether any entry is named `.gitattributes` (only then can one route files through lfs). */
  hasAttributes: boolean;
  /**
   * What the commit's files within the target's `paths` take once written: the sum of their
   * blob sizes, and how many entries (a tar holds a header block for each). Unknown for a
   * partial clone, whose blob sizes only downloading every blob would tell.
   */
  size?: { bytes: number; entries: number; lfs?: LfsObject[] };
}

/** An object a Git LFS pointer of the commit names, with the size the pointer states. */
export interface LfsObject {
  oid: string;
  size: number;
}

/**
 * The blob sizes git-lfs reads as a possible pointer: the shortest pointer (`size 0`) is 126
 * bytes, and git-lfs's scanner skips every blob of 1024 bytes or more (lfs/scanner.go,
 * blobSizeCutoff), as `git lfs fetch` does.
 */
const POINTER_BYTES = { min: 100, max: 1023 };

/** True when `path` is one of `paths` or inside one (empty `paths`: everything counts). */
export function withinPaths(path: string, paths: readonly string[]): boolean {
  if (paths.length === 0) return true;
  return paths.some((p) => {
    const base = p.replace(/\/+$/, '');
    return path === base || path.startsWith(`${base}/`);
  });
}

/**
 * A commit id fixes its tree, so what one complete listing saw of `sha` in `repoDir`
 * answers the submodule and LFS checks that follow it without listing the tree again.
 * Bounded: `pollpray daemon` lives for months, only the current cycles' commits matter.
 */
const facts = new Map<string, TreeFacts>();
const factsKey = (repoDir: string, sha: string) => `${repoDir}\0${sha}`;

/** What refuseForbiddenPaths saw of `sha` in `repoDir`, if it listed that tree whole. */
export function knownTreeFacts(repoDir: string, sha: string): TreeFacts | undefined {
  return facts.get(factsKey(repoDir, sha));
}

/**
 * Lists every path of `sha` (trees too: an empty `.git` directory counts) and throws
 * CommitContentError naming the first forbidden one. A listing git cannot produce is
 * a local problem (GitError), which the caller's repair path checks with git fsck.
 * The same listing records the tree's gitlinks, whether it has a `.gitattributes` and the
 * size of what `paths` of it write (knownTreeFacts), which the submodule, LFS and
 * free-space checks would otherwise list again.
 */
export async function refuseForbiddenPaths(target: Target, repoDir: string, sha: string, paths: readonly string[] = target.paths): Promise<void> {
  let found: string | undefined;
  let settled = false;
  const gitlinks: TreeGitlink[] = [];
  let hasAttributes = false;
  // Sizes cost nothing more in a full clone (the objects are local); in a partial clone
  // each missing blob would be downloaded on its own just to tell its size.
  const sizes = !target.clone.filter;
  const size: NonNullable<TreeFacts['size']> = { bytes: 0, entries: 0 };
  // With lfs: the blobs that may be LFS pointers, whose objects `git lfs fetch` would download.
  const pointerBlobs = sizes && target.lfs ? new Set<string>() : undefined;
  const result = await git(['-c', 'core.quotePath=false', 'ls-tree', '-r', '-t', ...(sizes ? ['-l'] : []), '--full-tree', sha], {
    cwd: repoDir,
    target,
    // Only the verdict matters: the listing itself may be megabytes.
    maxOutput: 4096,
    onLine: (line, stream) => {
      if (stream !== 'stdout') return;
      // `<mode> <type> <object>\t<path>`
      const tab = line.indexOf('\t');
      if (tab < 0) return;
      const path = unquoteGitPath(line.slice(tab + 1));
      const link = /^160000 commit ([0-9a-f]{40,64})(?: +-)?\t/.exec(line)?.[1];
      if (link) gitlinks.push({ path, sha: link });
      if (!hasAttributes && path.split('/').pop() === '.gitattributes') hasAttributes = true;
      // `<mode> <type> <object> <size>\t`: `-` for a tree or gitlink, which write no bytes of their own.
      if (sizes && withinPaths(path, paths)) {
        size.entries += 1;
        const bytes = / (\d+)\t/.exec(line.slice(0, tab + 1))?.[1];
        if (bytes !== undefined) size.bytes += Number(bytes);
        const blob = pointerBlobs && /^100(?:644|755) blob ([0-9a-f]{40,64}) +(\d+)\t/.exec(line);
        if (blob && Number(blob[2]) >= POINTER_BYTES.min && Number(blob[2]) <= POINTER_BYTES.max) pointerBlobs?.add(blob[1] ?? '');
      }
      if (settled) return;
      if (found === undefined) {
        // A name no filesystem here can create: a checkout would fail half-way through the live tree.
        if (forbiddenComponent(path) !== undefined || tooLongName(path)) found = path;
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
  if (pointerBlobs) size.lfs = await lfsObjectsIn(target, repoDir, sha, [...pointerBlobs]);
  // The oldest goes, never all: a clear could drop the listing a cycle still running made a
  // moment ago, and its disk checks, which read it, would count nothing.
  if (facts.size >= 64) facts.delete(facts.keys().next().value!);
  facts.set(factsKey(repoDir, sha), { gitlinks, hasAttributes, ...(sizes ? { size } : {}) });
}

/**
 * The LFS objects the pointers among `blobs` name, each with the size its pointer states
 * (the largest, should two pointers name one object with different sizes), read in one
 * `git cat-file --batch`. What a commit's pointers state is what git-lfs downloads: it
 * checks each object's oid and size as it arrives, so a server cannot send more than the
 * pointer says. Output is read as it streams, never held.
 *
 * The output is parsed by lines: a blob's content follows its header line
 * (`<blob> blob <size>`), and the next requested blob's header starts a new one. A blob that
 * is no pointer may hold a line that looks like a header followed by pointer text: that can
 * only add an object (count more), never hide a real pointer, whose text holds no such line.
 */
async function lfsObjectsIn(target: Target, repoDir: string, sha: string, blobs: string[]): Promise<LfsObject[]> {
  if (blobs.length === 0) return [];
  const requested = new Set(blobs);
  const objects = new Map<string, number>();
  let content: string[] | undefined;
  const settle = () => {
    const pointer = content && parseLfsPointer(content);
    if (pointer) objects.set(pointer.oid, Math.max(pointer.size, objects.get(pointer.oid) ?? 0));
    content = undefined;
  };
  const result = await git(['cat-file', '--batch'], {
    cwd: repoDir,
    target,
    input: `${blobs.join('\n')}\n`,
    maxOutput: 4096,
    onLine: (line, stream) => {
      if (stream !== 'stdout') return;
      const header = /^([0-9a-f]{40,64}) blob \d+$/.exec(line);
      if (header && requested.has(header[1] ?? '')) {
        settle();
        content = [];
      } else if (content && content.length <= 16) {
        content.push(line);
      }
    },
  });
  settle();
  if (result.exitCode !== 0 || result.timedOut) {
    const last = result.stderr.trim().split('\n').filter(Boolean).pop() ?? result.spawnError ?? (result.timedOut ? 'timed out' : 'no output');
    throw new GitError(`cannot read the Git LFS pointers of commit ${sha.slice(0, 12)} in ${repoDir}: ${last}`, {
      target: target.name,
      hint: 'the local repository may be damaged; check the disk (dmesg) and run pollpray again, which checks it with git fsck',
    });
  }
  return [...objects].map(([oid, size]) => ({ oid, size }));
}

/**
 * The object a Git LFS pointer's lines name, as git-lfs decodes one (lfs/pointer.go): a
 * `version` line first, then `key value` lines, among them `oid sha256:<64 hex>` and
 * `size <n>`; the blank line cat-file ends each blob with may follow. Anything else: no pointer.
 */
export function parseLfsPointer(lines: readonly string[]): LfsObject | undefined {
  const body = lines.at(-1) === '' ? lines.slice(0, -1) : lines;
  if (!body[0]?.startsWith('version https://') || body.length > 8) return undefined;
  let oid: string | undefined;
  let size: number | undefined;
  for (const line of body.slice(1)) {
    const kv = /^([a-z0-9.-]+) (\S+)$/.exec(line);
    if (!kv) return undefined;
    if (kv[1] === 'oid') oid = /^sha256:([0-9a-f]{64})$/.exec(kv[2] ?? '')?.[1];
    if (kv[1] === 'size') size = /^\d{1,16}$/.test(kv[2] ?? '') ? Number(kv[2]) : undefined;
  }
  return oid !== undefined && size !== undefined ? { oid, size } : undefined;
}

/**
 * The size of what `paths` of `sha` write (TreeFacts.size): from the listing
 * refuseForbiddenPaths made of it, else from one of its own. Undefined for a partial clone,
 * or when git cannot list it.
 */
export async function treeSize(target: Target, repoDir: string, sha: string): Promise<TreeFacts['size']> {
  const known = knownTreeFacts(repoDir, sha);
  if (known) return known.size;
  if (target.clone.filter) return undefined;
  const size = { bytes: 0, entries: 0 };
  const result = await git(['-c', 'core.quotePath=false', 'ls-tree', '-r', '-t', '-l', '--full-tree', sha], {
    cwd: repoDir,
    target,
    maxOutput: 4096,
    onLine: (line, stream) => {
      const tab = line.indexOf('\t');
      if (stream !== 'stdout' || tab < 0 || !withinPaths(unquoteGitPath(line.slice(tab + 1)), target.paths)) return;
      size.entries += 1;
      const bytes = / (\d+)\t/.exec(line.slice(0, tab + 1))?.[1];
      if (bytes !== undefined) size.bytes += Number(bytes);
    },
  });
  return result.exitCode === 0 && !result.timedOut ? size : undefined;
}
