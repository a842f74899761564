/**
 * How a strategy puts a commit on disk; the cycle (cycle.ts) sequences the steps and
 * owns scripts, restarts, health and state. Two implementations: strategy-in-place.ts
 * (one working clone, reset to the commit) and strategy-releases.ts (a directory per
 * commit, `current` switched atomically).
 */
import type { Target } from '../config/normalise.js';
import type { TargetState } from '../state/store.js';
import { inPlaceStrategy } from './strategy-in-place.js';
import { releasesStrategy } from './strategy-releases.js';

/** A commit made ready on disk. */
export interface Prepared {
  sha: string;
  /** Where the deploy script runs (POLLPRAY_RELEASE_DIR). */
  dir: string;
  /** releases: the release directory's name. */
  release?: string;
}

/** A version to go back to. */
export interface Version {
  sha: string;
  release: string | null;
}

export interface Strategy {
  readonly kind: Target['strategy'];
  /** Where the commit history lives (the checkout or the mirror): ancestry, subjects. */
  readonly repoDir: string;
  /**
   * True when prepare() already changes what `path` serves (in-place resets the live
   * checkout), so a failing deploy script must be rolled back; false when the new code
   * only goes live in activate() (releases switch `current`).
   */
  readonly liveOnPrepare: boolean;
  /** First thing under the lock: clear what an interrupted run left (partial releases). */
  recover(): Promise<string[]>;
  /** The commit the code on disk is at, to recover from lost state. */
  liveCommit(): Promise<string | undefined>;
  /** Whether repoDir holds history to check ancestry against. */
  hasRepo(): boolean;
  /** Makes `sha` available locally: clone/fetch (of `tag` for a target tracking tags). Returns a word for the log. */
  fetch(sha: string, tag?: string): Promise<string>;
  /**
   * What the fetched commit holds besides its files: refuses LFS without `lfs`, fetches its
   * submodules (from URLs the commit names) and, with `lfs`, downloads its LFS objects. The
   * cycle calls it after the signature check, so an unverified commit makes pollpray contact
   * nothing it names and download nothing it names; before anything goes live.
   */
  inspect(sha: string): Promise<void>;
  /** Puts `sha` on disk for its deploy script. */
  prepare(sha: string, state: TargetState): Promise<Prepared>;
  /** Throws away a prepared commit that never went live. */
  discard(prepared: Prepared): Promise<void>;
  /** Makes the prepared (and built) commit what `path` serves. */
  activate(prepared: Prepared): Promise<void>;
  /**
   * Brings back a version that was live before. `rebuild` runs the deploy script in a
   * directory: in-place has no old build to go back to and needs it; releases does not.
   */
  restore(to: Version, rebuild: (prepared: Prepared) => Promise<void>): Promise<Prepared>;
  /** Removes what is no longer needed after a deploy (old releases); returns what went. */
  prune(state: TargetState): Promise<string[]>;
}

export function strategyFor(target: Target, workDir: string): Strategy {
  return target.strategy === 'releases' ? releasesStrategy(target, workDir) : inPlaceStrategy(target, workDir);
}
