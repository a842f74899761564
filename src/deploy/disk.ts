/**
 * Free space where releases are built. Exported for `doctor`, which reports the same
 * check the releases strategy refuses on.
 */
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { EnvironmentError } from '../errors.js';
import type { LfsObject, TreeFacts } from '../git/tree-paths.js';
import { formatSize } from '../size.js';

export interface FreeSpace {
  /** The existing directory that was measured (path itself or its nearest ancestor). */
  measured: string;
  freeBytes: number;
  minBytes: number;
  ok: boolean;
}

/** Free space (for an unprivileged user: bavail) on the filesystem that holds `path`. */
export function freeSpaceAt(path: string, minBytes: number): FreeSpace {
  let dir = path;
  for (;;) {
    try {
      const s = statfsSync(dir);
      const freeBytes = s.bavail * s.bsize;
      return { measured: dir, freeBytes, minBytes, ok: freeBytes >= minBytes };
    } catch (err) {
      const parent = dirname(dir);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === dir) throw err;
      dir = parent;
    }
  }
}

/** Throws a clear EnvironmentError when `path` has less free space than `minBytes`. */
export function requireFreeSpace(path: string, minBytes: number, target: string): FreeSpace {
  const space = freeSpaceAt(path, minBytes);
  if (!space.ok) {
    throw new EnvironmentError(
      `not enough disk space for a new release: ${formatSize(space.freeBytes)} free at ${space.measured}, min_free_space is ${formatSize(minBytes)}`,
      { target, hint: 'free space on that filesystem (old releases, logs), or lower min_free_space' },
    );
  }
  return space;
}

/**
 * Refuses, before anything is written, a write of `needBytes` at `path` that would leave
 * less than `minBytes` free there. What a commit unpacks to is chosen by whoever pushes:
 * a few KiB of pack can name one blob a thousand times (gigabytes once written), and
 * writing until ENOSPC would fill the host's disk on every run. A host fault, as a full
 * disk is: once there is room, the next run deploys the commit.
 */
export function requireRoomFor(path: string, needBytes: number, minBytes: number, target: string, what: string): FreeSpace {
  const space = freeSpaceAt(path, minBytes);
  if (space.freeBytes - needBytes < minBytes) {
    throw new EnvironmentError(
      `not enough disk space for ${what}: it takes ${formatSize(needBytes)}, ${formatSize(space.freeBytes)} is free at ${space.measured} and min_free_space (${formatSize(minBytes)}) must stay free; nothing was written`,
      { target, hint: 'free space on that filesystem (old releases, logs) or lower min_free_space; a commit that should not be this big is fixed by pushing one that is not' },
    );
  }
  return space;
}

/** Whether a file of `needBytes` written as `file` leaves `minBytes` free on its filesystem. */
export function roomFor(file: string, needBytes: number, minBytes: number): boolean {
  return freeSpaceAt(dirname(file), minBytes).freeBytes - needBytes >= minBytes;
}

/** What a tree listing's files take once unpacked: their bytes, and a block (4 KiB) per entry at most on top; LFS files at the size their pointers state. */
export function unpackedBytes(size: TreeFacts['size']): number {
  return size ? size.bytes + size.entries * 4096 + lfsBytes(size.lfs) : 0;
}

/** What `git archive` of them writes: each entry a 512-byte header and up to 511 bytes of padding, and the tar's end; LFS files with their content. */
export function archiveBytes(size: TreeFacts['size']): number {
  return size ? size.bytes + size.entries * 1024 + 10240 + lfsBytes(size.lfs) : 0;
}

/** The sum of the sizes LFS pointers state (each object once). */
export function lfsBytes(objects: readonly LfsObject[] | undefined): number {
  return (objects ?? []).reduce((n, o) => n + o.size, 0);
}
