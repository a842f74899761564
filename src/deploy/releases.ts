/**
 * The releases layout on disk, under a target's `path`:
 *
 *   releases/<utc-time>-<sha12>/   one directory per deploy, the commit's files
 *   releases/<name>/.pollpray-release   completion marker, written once the build succeeded
 *   shared/<p>                      kept across releases, linked into each as <p>
 *   current -> releases/<name>      switched by rename(2) of a new symlink: atomic, so
 *                                   `current` resolves at every moment
 *
 * A directory without the marker is a build that did not finish: it never becomes
 * current and the next run removes it.
 */
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { EnvironmentError, GitError } from '../errors.js';
import { isWithin, realLocation } from '../real-location.js';
import { fsyncPath } from '../state/store.js';

export const MARKER = '.pollpray-release';

export interface ReleaseMarker {
  sha: string;
  completed: string;
}

export interface Release {
  name: string;
  dir: string;
  sha: string;
}

export const releasesDir = (path: string) => join(path, 'releases');
export const currentLink = (path: string) => join(path, 'current');

/** `20261123T160501.482Z-3f2a9c1b7d0e`: sorts by time, names the commit. */
export function releaseName(sha: string, now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, '')}-${sha.slice(0, 12)}`;
}

export function readMarker(dir: string): ReleaseMarker | undefined {
  try {
    const marker = JSON.parse(readFileSync(join(dir, MARKER), 'utf8')) as Partial<ReleaseMarker>;
    return typeof marker.sha === 'string' ? { sha: marker.sha, completed: String(marker.completed ?? '') } : undefined;
  } catch {
    return undefined;
  }
}

export function writeMarker(dir: string, sha: string, now: Date): void {
  const file = join(dir, MARKER);
  writeFileSync(file, `${JSON.stringify({ sha, completed: now.toISOString() } satisfies ReleaseMarker)}\n`);
  fsyncPath(file);
  fsyncPath(dir);
}

/** The release name `current` points at, or null when there is no current link. */
export function currentRelease(path: string): string | null {
  try {
    return basename(readlinkSync(currentLink(path)));
  } catch {
    return null;
  }
}

/** Complete releases, oldest first. */
export function listReleases(path: string): Release[] {
  const root = releasesDir(path);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .sort()
    .flatMap((name) => {
      const marker = readMarker(join(root, name));
      return marker ? [{ name, dir: join(root, name), sha: marker.sha }] : [];
    });
}

/** Removes release directories without a completion marker (never `current`); returns their names. */
export function removePartialReleases(path: string): string[] {
  const root = releasesDir(path);
  if (!existsSync(root)) return [];
  const current = currentRelease(path);
  const removed: string[] = [];
  for (const name of readdirSync(root)) {
    if (name === current || readMarker(join(root, name))) continue;
    rmSync(join(root, name), { recursive: true, force: true });
    removed.push(name);
  }
  for (const name of readdirSync(path)) if (name.startsWith('.current.tmp-')) rmSync(join(path, name), { force: true });
  return removed;
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
        cpSync(inRelease, source, { recursive: true });
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
 * Which complete releases pruning removes: all but the newest `keep`, and never the
 * ones in `protect` (current and previous), whatever their age.
 */
export function releasesToPrune(names: readonly string[], keep: number, protect: ReadonlySet<string>): string[] {
  const newestFirst = [...names].sort().reverse();
  return newestFirst.slice(keep).filter((name) => !protect.has(name));
}

export function removeRelease(path: string, name: string): void {
  rmSync(join(releasesDir(path), name), { recursive: true, force: true });
}
