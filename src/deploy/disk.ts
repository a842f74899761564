/**
 * Free space where releases are built. Exported for `doctor`, which reports the same
 * check the releases strategy refuses on.
 */
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { EnvironmentError } from '../errors.js';
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
