/**
 * The releases layout on disk, under a target's `path`:
 *
 *   releases/<utc-time>-<sha12>/    one directory per deploy: the commit's files, nothing else
 *   .pollpray/releases/<name>.json  completion record, written once the build succeeded
 *   shared/<p>                      kept across releases, linked into each as <p>
 *   current -> releases/<name>      switched by rename(2) of a new symlink: atomic, so
 *                                   `current` resolves at every moment
 *
 * A release directory holds whatever the commit holds, so nothing of pollpray's lives
 * in it: a committed `.pollpray-release` (the marker's old place) is just a file of the
 * app, and a committed link there cannot steer a write. The records live in a directory
 * only pollpray writes (created by it, a real directory owned by this user, never
 * written through a link), are validated as data when read, and are the only thing
 * that makes a release complete. A release without a valid record is a build that did
 * not finish: it never becomes current, `rollback` does not offer it, and the next run
 * removes it.
 */
import {
  closeSync,
  constants,
  cpSync,
  existsSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { EnvironmentError, GitError } from '../errors.js';
import { isWithin, realLocation } from '../real-location.js';
import { isFullSha } from '../git/ref-name.js';
import { fullShaSchema } from '../state/records.js';
import { fsyncPath } from '../state/store.js';

/** Where the completion records live, relative to `path`. */
export const RECORDS = join('.pollpray', 'releases');
/** The marker's place before 0.2, inside the release: read once, to adopt old releases. */
const LEGACY_MARKER = '.pollpray-release';
/** A record is a few dozen bytes; anything bigger is not one. */
const MAX_RECORD_BYTES = 4096;

const recordSchema = z
  .object({
    version: z.literal(1),
    release: z.string(),
    sha: fullShaSchema,
    completed: z.string(),
  })
  .strict();
export type ReleaseRecord = z.infer<typeof recordSchema>;

export interface Release {
  name: string;
  dir: string;
  sha: string;
}

export const releasesDir = (path: string) => join(path, 'releases');
export const currentLink = (path: string) => join(path, 'current');
export const recordsDir = (path: string) => join(path, RECORDS);
const recordFile = (path: string, name: string) => join(recordsDir(path), `${name}.json`);

/** `20261123T160501.482Z-3f2a9c1b7d0e`: sorts by time, names the commit. */
export function releaseName(sha: string, now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, '')}-${sha.slice(0, 12)}`;
}

/** A record is only believed when it is well-formed and agrees with the release it is named after. */
export function parseRecord(name: string, text: string): ReleaseRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Not JSON: value stays undefined, which the schema refuses.
  }
  const parsed = recordSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const record = parsed.data;
  return record.release === name && name.endsWith(`-${record.sha.slice(0, 12)}`) ? record : undefined;
}

/** Reads a small regular file without following a link at its last component; undefined when it is anything else. */
function readOwnFile(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    // One byte more than a record may have: reading it means the file is too big.
    const buf = Buffer.alloc(MAX_RECORD_BYTES + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return n > MAX_RECORD_BYTES ? undefined : buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Whether `dir` is a real directory (lstat: not a link to one) owned by this user. */
function isOwnDir(dir: string): boolean {
  const st = lstatOrUndefined(dir);
  return !!st && st.isDirectory() && st.uid === process.geteuid?.();
}

/** The record of release `name`, or undefined when it has none or one that does not hold. */
export function readRecord(path: string, name: string): ReleaseRecord | undefined {
  if (!isOwnDir(join(path, '.pollpray')) || !isOwnDir(recordsDir(path))) return undefined;
  // A file that cannot be read is '' here, which is no record either.
  return parseRecord(name, readOwnFile(recordFile(path, name)) ?? '');
}

/**
 * Creates `<path>/.pollpray/releases` (each level a real directory of this user's) or
 * refuses: pollpray writes its records through no link and into no one else's directory.
 */
function ensureRecordsDir(path: string, target: string): string {
  for (const dir of [join(path, '.pollpray'), recordsDir(path)]) {
    if (!lstatOrUndefined(dir)) mkdirSync(dir, { mode: 0o750 });
    if (!isOwnDir(dir)) {
      throw new EnvironmentError(`${dir} is not a directory of pollpray's own (a symlink, a file, or owned by another user)`, {
        target,
        hint: `remove it (rm -r ${dir}); pollpray creates it and keeps its release records there`,
      });
    }
  }
  return recordsDir(path);
}

/**
 * Records release `name` as complete: a temp file created exclusively (never through a
 * link), fsynced, renamed over the record, the directory fsynced.
 */
export function writeRecord(path: string, name: string, sha: string, now: Date, target: string): void {
  const dir = ensureRecordsDir(path, target);
  const record: ReleaseRecord = { version: 1, release: name, sha, completed: now.toISOString() };
  const file = recordFile(path, name);
  const tmp = join(dir, `.${name}.json.tmp-${process.pid}`);
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o640);
  try {
    writeSync(fd, `${JSON.stringify(record)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncPath(dir);
}

function removeRecord(path: string, name: string): void {
  if (isOwnDir(join(path, '.pollpray')) && isOwnDir(recordsDir(path))) rmSync(recordFile(path, name), { force: true });
}

/** The release name `current` points at, or null when there is no current link. */
export function currentRelease(path: string): string | null {
  try {
    return basename(readlinkSync(currentLink(path)));
  } catch {
    return null;
  }
}

/** Release directories (whatever their state), sorted: names only pollpray makes. */
function releaseNames(path: string): string[] {
  const root = releasesDir(path);
  if (!existsSync(root)) return [];
  return readdirSync(root).sort();
}

/** Complete releases (those with a valid record), oldest first. */
export function listReleases(path: string): Release[] {
  return releaseNames(path).flatMap((name) => {
    const record = readRecord(path, name);
    return record ? [{ name, dir: join(releasesDir(path), name), sha: record.sha }] : [];
  });
}

/**
 * An upgrade from the layout with the marker inside the release: records do not exist
 * yet. The old markers are adopted only for `current` and the releases older than it:
 * pollpray switched `current` to a complete release, and every unfinished build was
 * newer than the `current` of its time. A marker is read only as a regular file (a
 * committed link is not followed) and must name the release's own commit.
 */
function adoptLegacyMarkers(path: string, target: string): string[] {
  // Only from removePartialReleases, which returns before this when releases/ is absent.
  if (lstatOrUndefined(join(path, '.pollpray'))) return [];
  const current = currentRelease(path);
  const adopted: string[] = [];
  for (const name of releaseNames(path)) {
    if (!current || name > current) continue;
    let sha: unknown;
    try {
      sha = (JSON.parse(readOwnFile(join(releasesDir(path), name, LEGACY_MARKER)) ?? '') as { sha?: unknown }).sha;
    } catch {
      // Not JSON: sha stays undefined, and the release is not adopted.
    }
    if (typeof sha !== 'string' || !isFullSha(sha) || !name.endsWith(`-${sha.slice(0, 12)}`)) continue;
    writeRecord(path, name, sha, new Date(), target);
    adopted.push(name);
  }
  ensureRecordsDir(path, target);
  return adopted;
}

/** Why the records cannot be trusted to say what is complete, or undefined when they can. */
function recordsUnusable(path: string): string | undefined {
  for (const dir of [join(path, '.pollpray'), recordsDir(path)]) {
    if (lstatOrUndefined(dir) && !isOwnDir(dir)) return `${dir} is not a directory of pollpray's own (a symlink, a file, or owned by another user)`;
  }
  return undefined;
}

export interface Recovered {
  /** Release directories without a valid record, removed. */
  removed: string[];
  /** Releases of the old layout taken over (upgrade). */
  adopted: string[];
  /** Set when the records directory is not pollpray's: nothing was removed (the deploy then fails, naming it). */
  unusable?: string;
}

/**
 * Removes release directories without a valid record (never `current`), records that
 * name no release, and `current` temp links. Runs under the target's lock.
 */
export function removePartialReleases(path: string, target: string): Recovered {
  if (!existsSync(releasesDir(path))) return { removed: [], adopted: [] };
  // Records pollpray cannot trust say nothing about which release is complete: remove nothing.
  const unusable = recordsUnusable(path);
  if (unusable) return { removed: [], adopted: [], unusable };
  const adopted = adoptLegacyMarkers(path, target);
  const current = currentRelease(path);
  const removed: string[] = [];
  const names = releaseNames(path);
  for (const name of names) {
    if (name === current || readRecord(path, name)) continue;
    removeRelease(path, name);
    removed.push(name);
  }
  // .pollpray is pollpray's own here (recordsUnusable, or adoptLegacyMarkers made it); its
  // releases/ may be missing when an older run stopped between the two mkdirs.
  if (isOwnDir(recordsDir(path))) {
    const kept = new Set(releaseNames(path));
    for (const file of readdirSync(recordsDir(path))) {
      // A record of no release, or a temp whose writer died (`.<name>.json.tmp-<pid>`; writes happen under the lock).
      if (!(file.endsWith('.json') && kept.has(file.slice(0, -'.json'.length)))) rmSync(join(recordsDir(path), file), { recursive: true });
    }
  }
  for (const name of readdirSync(path)) if (name.startsWith('.current.tmp-')) rmSync(join(path, name));
  return { removed, adopted };
}

/**
 * Points `current` at `name`: a new symlink under a temp name renamed over the old one.
 * rename(2) replaces the link in one step, so readers see the old or the new release.
 */
export function switchCurrent(path: string, name: string, target: string): void {
  const link = currentLink(path);
  const existing = lstatOrUndefined(link);
  if (existing && !existing.isSymbolicLink()) {
    throw new EnvironmentError(`${link} exists and is not a symlink, so it cannot be switched atomically`, {
      target,
      hint: `move it away (mv ${link} ${link}.old); pollpray manages current as a symlink into releases/`,
    });
  }
  const tmp = join(path, `.current.tmp-${process.pid}`);
  rmSync(tmp, { force: true });
  symlinkSync(join('releases', name), tmp);
  renameSync(tmp, link);
  fsyncPath(path);
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Links each shared path into the release. A missing shared path is seeded from the
 * release's own copy (first deploy), or created as an empty directory; a missing name
 * with an extension (.env, settings.yml) is most likely a file, which pollpray cannot
 * invent, so that is an error telling what to create.
 *
 * The release holds whatever the commit holds, symlinks included, and whoever can push
 * must not steer pollpray's rm and symlink out of it: a shared path whose directory
 * leads out of the release through a committed link is refused, and so is seeding
 * shared/ from a committed link (every later release would write where it points).
 * Links inside a seeded directory are copied as they are written (a relative link stays
 * relative, so it never points into the release it came from, which pruning removes);
 * one that leads outside the release (absolute, or climbing out of it) fails the deploy
 * before anything is seeded: shared/ outlives every release, and what the app writes
 * there must not land where a commit chose.
 */
export function linkShared(path: string, releaseDir: string, shared: readonly string[], target: string): string[] {
  const notes: string[] = [];
  const release = realLocation(releaseDir);
  const hint = (p: string) => `replace the symlink on the way to ${p} in the repository by a real directory (or remove ${p} from shared), and push`;
  for (const p of shared) {
    const source = join(path, 'shared', p);
    const inRelease = join(releaseDir, p);
    if (!isWithin(realLocation(dirname(inRelease)), release)) {
      throw new GitError(`shared path ${p} leads out of the release through a symlink in the commit (to ${realLocation(inRelease)})`, { target, hint: hint(p) });
    }
    const committed = lstatOrUndefined(inRelease);
    if (!lstatOrUndefined(source)) {
      if (committed?.isSymbolicLink()) {
        throw new GitError(`shared path ${p} is a symlink in the commit: pollpray does not seed ${source} from a link`, {
          target,
          hint: `create ${source} yourself (mkdir, or touch for a file), or ${hint(p)}`,
        });
      }
      mkdirSync(dirname(source), { recursive: true });
      if (committed) {
        const escape = committed.isDirectory() ? linkLeaving(releaseDir, p) : undefined;
        if (escape) {
          throw new GitError(`shared path ${p}: the commit's ${escape.link} is a symlink to ${escape.to}, outside the release: pollpray does not seed shared/ with it`, {
            target,
            hint: `make that link relative and inside the repository (or remove it) and push, or create ${source} yourself`,
          });
        }
        // verbatimSymlinks: Node would otherwise rewrite every relative link into an absolute path into this release.
        cpSync(inRelease, source, { recursive: true, verbatimSymlinks: true });
        // Read again where the links now live: a climb that stayed in the release only through
        // another link of the commit (storage -> a/b/c) takes the operator's shared/storage here.
        const leaves = committed.isDirectory() ? linkLeaving(join(path, 'shared'), p) : undefined;
        if (leaves) {
          rmSync(source, { recursive: true, force: true });
          throw new GitError(`shared path ${p}: the commit's ${leaves.link} is a symlink to ${leaves.to}, outside shared/ once seeded: pollpray does not seed shared/ with it`, {
            target,
            hint: `make that link lead inside ${p} without passing through other links (or remove it) and push, or create ${source} yourself`,
          });
        }
        notes.push(`seeded shared ${p} from the release`);
      } else if (!basename(p).includes('.') ) {
        mkdirSync(source);
        notes.push(`created empty shared directory ${p}`);
      } else {
        throw new EnvironmentError(`shared path ${source} does not exist`, {
          target,
          hint: `create it (e.g. touch ${source}, or mkdir for a directory), or remove ${p} from shared`,
        });
      }
    }
    rmSync(inRelease, { recursive: true, force: true });
    mkdirSync(dirname(inRelease), { recursive: true });
    symlinkSync(source, inRelease);
  }
  return notes;
}

/**
 * The first symlink under `<root>/<p>` that leads outside `root` (a release, or shared/):
 * absolute, or relative but resolving (through the links under `root` too) above it.
 */
function linkLeaving(root: string, p: string): { link: string; to: string } | undefined {
  const release = realLocation(root);
  const walk = (rel: string): { link: string; to: string } | undefined => {
    for (const entry of readdirSync(join(root, rel), { withFileTypes: true })) {
      const child = join(rel, entry.name);
      if (entry.isSymbolicLink()) {
        const to = readlinkSync(join(root, child));
        // Not join(): it would fold `link/..` as written, where the kernel goes to the link target's parent.
        if (isAbsolute(to) || !isWithin(realLocation(`${release}/${dirname(child)}/${to}`), release)) return { link: child, to };
      } else if (entry.isDirectory()) {
        const found = walk(child);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(p);
}

/**
 * Which complete releases pruning removes: all but the newest `keep`, and never the
 * ones in `protect` (current and previous), whatever their age.
 */
export function releasesToPrune(names: readonly string[], keep: number, protect: ReadonlySet<string>): string[] {
  const newestFirst = [...names].sort().reverse();
  return newestFirst.slice(keep).filter((name) => !protect.has(name));
}

/** The record goes first: a kill in between leaves a release without one, which the next run removes. */
export function removeRelease(path: string, name: string): void {
  removeRecord(path, name);
  rmSync(join(releasesDir(path), name), { recursive: true, force: true });
}
