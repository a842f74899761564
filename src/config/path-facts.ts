/**
 * What the filesystem says about each target's directories, looked up once when the
 * config is loaded; symlink-rules.ts decides on these facts alone. Each path is
 * resolved from the target's real directory, so a symlink above `path` (/srv ->
 * /data/srv) never counts against the target's own layout.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { realLocation } from '../real-location.js';
import type { RawConfig } from './schema.js';

/** What is at `<path>/current` of a releases target. */
export type CurrentLink =
  | { kind: 'absent' }
  | { kind: 'not-a-symlink'; what: 'directory' | 'file' }
  /** `dir`: where the directory the link points into really is (pollpray's own: `<path>/releases`). */
  | { kind: 'symlink'; to: string; dir: string };

export interface SharedFacts {
  index: number;
  entry: string;
  /** `<real path>/shared/<entry>`: where it is when no symlink below `path` redirects it. */
  written: string;
  real: string;
}

export interface TargetPaths {
  name: string;
  /** `path` as written, normalised. */
  path: string;
  real: string;
  releases?: { releasesDir: string; current: CurrentLink; shared: SharedFacts[] };
}

export function targetPaths(raw: RawConfig): TargetPaths[] {
  return Object.entries(raw.targets).map(([name, t]): TargetPaths => {
    const path = posix.normalize(t.path).replace(/(.)\/+$/, '$1');
    const real = realLocation(path);
    if (t.strategy !== 'releases') return { name, path, real };
    const shared = (t.shared ?? []).map((entry, index) => {
      const written = posix.join(real, 'shared', entry);
      return { index, entry, written, real: realLocation(written) };
    });
    return { name, path, real, releases: { releasesDir: realLocation(posix.join(real, 'releases')), current: currentLink(real), shared } };
  });
}

function currentLink(real: string): CurrentLink {
  const link = posix.join(real, 'current');
  let stat;
  try {
    stat = lstatSync(link);
  } catch {
    return { kind: 'absent' };
  }
  if (!stat.isSymbolicLink()) return { kind: 'not-a-symlink', what: stat.isDirectory() ? 'directory' : 'file' };
  const to = readlinkSync(link);
  return { kind: 'symlink', to, dir: realLocation(posix.dirname(posix.resolve(real, to))) };
}
