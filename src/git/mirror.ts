/**
 * The releases strategy's git side: a bare mirror per target in the state dir, fetched
 * by exact branch, and `git archive` of an exact commit, so a release directory holds
 * the commit's files and nothing else (no .git to serve by accident, no stale files).
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Target } from '../config/normalise.js';
import { GitError } from '../errors.js';
import { run } from '../exec/run.js';
import { hasCommit } from './checkout.js';
import { fetchTracked, lfsConfig } from './fetch.js';
import { gitOrThrow } from './git.js';
import { isFullSha } from './ref-name.js';
import { removeAbandonedTemps } from '../state/store.js';
import { archiveBytes, requireRoomFor } from '../deploy/disk.js';
import { knownTreeFacts } from './tree-paths.js';

/** The export's tar in the state dir: `.export.tar.tmp-<pid>`, so a dead writer's is recognised. */
const EXPORT_TEMP = '.export.tar.tmp-';

/**
 * Removes export tars whose run died (kill -9 mid-export: one per kill, each the size
 * of the commit). Releases are exported under the target's lock, so another run's
 * tar is only ever a dead one; the PID check keeps even that assumption out of it.
 * `export-<pid>.tar` is the name before 0.2.
 */
export function removeAbandonedExports(scratch: string): void {
  removeAbandonedTemps(scratch, EXPORT_TEMP);
  let names: string[];
  try {
    names = readdirSync(scratch);
  } catch {
    return;
  }
  for (const name of names) if (/^export-\d+\.tar$/.test(name)) rmSync(join(scratch, name), { force: true });
}

/** Where this process writes a commit's export tar in `scratch` (fetchSound may write it ahead, see exportCommit). */
export function exportTarFile(scratch: string): string {
  return join(scratch, `${EXPORT_TEMP}${process.pid}`);
}

export function mirrorDir(workDir: string): string {
  return join(workDir, 'mirror.git');
}

/** Makes `sha` present in the mirror (created on first use); the branch ref follows force-pushes. */
export async function fetchIntoMirror(target: Target, mirror: string, sha: string, tag?: string): Promise<'cloned' | 'fetched'> {
  let how: 'cloned' | 'fetched' = 'fetched';
  if (!existsSync(join(mirror, 'HEAD'))) {
    rmSync(mirror, { recursive: true, force: true });
    mkdirSync(dirname(mirror), { recursive: true });
    await gitOrThrow(['init', '--quiet', '--bare', '--', mirror], { cwd: dirname(mirror), target }, 'init mirror');
    how = 'cloned';
  }
  // `+` on a tag too: a re-pointed tag is followed like a force-pushed branch.
  const ref = tag === undefined ? `refs/heads/${target.branch}` : `refs/tags/${tag}`;
  const first = await fetchTracked(target, mirror, `+${ref}:${ref}`);
  if (!(await hasCommit(target, sha, mirror))) {
    throw new GitError(`commit ${sha.slice(0, 12)} is not on ${tag ?? target.branch} after fetching`, {
      target: target.name,
      hint: 'the branch moved during the fetch; the next run will pick up the new head',
    });
  }
  // LFS objects are fetched later, after the signature check (fetchLfsSound).
  return first ? 'cloned' : how;
}

/**
 * The `git archive` of `sha` into `output` as every export reads it: modes fixed (tar.umask
 * 0022; see exportCommit), LFS files produced when the target has lfs, and only the target's
 * `paths` as literal pathspecs (a monorepo's release holds only those) or the whole commit.
 * fetchSound's read and exportCommit both use it, so the read's archive is the export's.
 */
export async function archiveArgv(target: Target, dir: string, sha: string, output: string, paths: readonly string[] = target.paths, lfs = true): Promise<string[]> {
  const pathspecs = paths.length ? ['--', ...paths.map((p) => `:(literal)${p.replace(/\/+$/, '')}`)] : [];
  const filters = lfs ? await lfsConfig(target, dir, sha) : NO_LFS_FILTER;
  return [...filters, '-c', 'tar.umask=0022', 'archive', '--format=tar', `--output=${output}`, sha, ...pathspecs];
}

/**
 * An archive that runs no LFS filter: its LFS files are their pointers, and git-lfs contacts
 * nothing. Explicit, so a `filter.lfs` section in the repository's own config (a `git lfs
 * install --local` by hand in an in-place checkout) cannot bring the filter back.
 */
const NO_LFS_FILTER = ['-c', 'filter.lfs.process=', '-c', 'filter.lfs.smudge=', '-c', 'filter.lfs.required=false'];

/**
 * `git archive` obeys the archived commit's own `.gitattributes`: `export-ignore` leaves
 * files out and `export-subst` rewrites `$Format:…$` in them, so whoever pushes would
 * decide what a release holds beyond its files. `$GIT_DIR/info/attributes` outranks every
 * in-tree attribute file (git 2.39 and later alike), so these two are switched off there and
 * the export writes the commit's bytes, as a checkout would. Conversion attributes (`eol`,
 * `ident`, `working-tree-encoding`) stay: a checkout applies them too, and a filter driver
 * needs config, which no commit can set (git runs without system or global config).
 */
export const EXACT_EXPORT_ATTRIBUTES = '* -export-ignore -export-subst\n';

/**
 * Makes EXACT_EXPORT_ATTRIBUTES the last line of `<gitDir>/info/attributes` (pollpray's
 * mirror, or an in-place checkout's .git before its pre-read): every `git archive` there then
 * reads the commit whole. Lines already in the file stay (an operator's `eol` in a checkout);
 * ours comes last, where it outranks them too.
 */
export function pinExportAttributes(gitDir: string): void {
  const file = join(gitDir, 'info', 'attributes');
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // Absent (a new repository, one an older pollpray made, a git template without info/): written below.
  }
  if (current === EXACT_EXPORT_ATTRIBUTES || current.endsWith(`\n${EXACT_EXPORT_ATTRIBUTES}`)) return;
  mkdirSync(dirname(file), { recursive: true });
  const kept = current === '' || current.endsWith('\n') ? current : `${current}\n`;
  writeFileSync(file, `${kept}${EXACT_EXPORT_ATTRIBUTES}`, { mode: 0o644 });
}

/**
 * Writes the files of exactly `sha` into `dir` (which must exist), through a tar file in
 * `scratch`. `paths`: only those (default: the target's paths); LFS files are
 * written with their content when the target has lfs (git-lfs smudges them).
 */
export async function exportCommit(target: Target, mirror: string, sha: string, dir: string, scratch: string, paths: readonly string[] = target.paths, alreadyRead = false): Promise<void> {
  if (!isFullSha(sha)) throw new GitError(`refusing to export ${sha}: not a full commit id`, { target: target.name });
  removeAbandonedExports(scratch);
  const tarFile = exportTarFile(scratch);
  try {
    // Modes are fixed here, not left to the caller's umask: git archive records 0664/0775 by
    // default (tar.umask 002), and root's tar restores recorded modes as they are, so a run
    // as root made group-writable releases. The archive says 0644/0755; -p applies exactly that.
    chmodSync(dir, 0o755);
    pinExportAttributes(mirror);
    // `alreadyRead`: fetchSound's read of this commit wrote exactly this archive to tarFile (same paths, umask, lfs config).
    if (!(alreadyRead && existsSync(tarFile))) {
      // The tar goes to the state dir: never one that would fill its disk (what it takes is known from the tree's listing).
      requireRoomFor(scratch, archiveBytes(knownTreeFacts(mirror, sha)?.size), target.minFreeSpaceBytes, target.name, `the archive of commit ${sha.slice(0, 12)}`);
      await gitOrThrow(await archiveArgv(target, mirror, sha, tarFile, paths), { cwd: mirror, target }, 'archive');
    }
    const untar = await run(['tar', '-x', '-p', '--no-same-owner', '-f', tarFile, '-C', dir], { cwd: dir, timeoutMs: target.gitTimeoutMs });
    if (untar.exitCode !== 0 && isDiskFull(untar.stderr)) {
      throw new GitError(`no space left on device (ENOSPC) unpacking ${sha.slice(0, 12)} into ${dir}: ${tarCause(untar.stderr)}`, {
        target: target.name,
        hint: 'free space at path (old releases, logs) or lower keep_releases; the unfinished release is removed',
        // A full disk is the host's: once there is room, the next run deploys this commit.
        fault: 'host',
      });
    }
    if (untar.exitCode !== 0) {
      throw new GitError(`unpacking ${sha.slice(0, 12)} into ${dir} failed: ${untar.spawnError ?? tarCause(untar.stderr)}`, {
        target: target.name,
        hint: 'check free space and permissions at path',
      });
    }
  } finally {
    rmSync(tarFile, { force: true });
  }
}

/**
 * tar's first complaint is the cause ("Cannot write: No space left on device"); its last
 * line is only "Exiting with failure status due to previous errors".
 */
function tarCause(stderr: string): string {
  const lines = stderr.trim().split('\n').filter((l) => l && !/Exiting with failure status/.test(l));
  return lines[0] ?? stderr.trim();
}

/** GNU tar reports a full disk as a short write ("Wrote only 4608 of 10240 bytes"), not always as ENOSPC. */
export function isDiskFull(stderr: string): boolean {
  return /No space left on device|Wrote only \d+ of \d+ bytes|Disk quota exceeded/.test(stderr);
}
