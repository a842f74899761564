/**
 * A filesystem error is the host's, not a bug in pollpray and not the commit's: a
 * directory pollpray may not write (EACCES, EPERM), a read-only or full filesystem
 * (EROFS, ENOSPC, EDQUOT), a parent directory that is gone (ENOENT). Each becomes one
 * EnvironmentError naming the config key whose directory to fix (path-keys.ts) and how.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { keyOfPath, nearestExisting, type PathKey } from './path-keys.js';
import { currentUid, currentUser, userName } from './users.js';

const REASON: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENOENT: 'its directory does not exist',
  ENOTDIR: 'a part of it is not a directory',
};

interface Errno {
  code: string;
  path: string;
  syscall?: string;
}

function errnoOf(err: unknown): Errno | undefined {
  const e = err as Partial<NodeJS.ErrnoException> | null;
  if (!e || typeof e !== 'object' || typeof e.code !== 'string' || typeof e.path !== 'string') return undefined;
  return { code: e.code, path: e.path, syscall: e.syscall };
}

/** The words naming where: `state_dir /var/lib/pollpray`, or the directory alone when no key names it. */
function where(key: PathKey | undefined, dir: string): string {
  return key ? `${key.key} (${key.path})` : dir;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** EACCES or EROFS when `dir` cannot be written (or entered) by this user, else undefined. */
function writeProblem(dir: string): string | undefined {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && code in REASON ? code : undefined;
  }
}

/**
 * The directory the operator has to fix and how, for one errno on `path`; undefined
 * for an error that is no host fault (then it is a bug, and main.ts says so).
 */
export function fsFault(err: unknown, target?: string): EnvironmentError | undefined {
  const e = errnoOf(err);
  if (!e || !(e.code in REASON)) return undefined;
  // ENOENT is a host fault only when the directory to create or write in is missing;
  // a missing file pollpray expected to find is a bug worth reporting.
  const parent = dirname(e.path);
  if (e.code === 'ENOENT' && nearestExisting(parent) === parent) return undefined;
  // Where it failed: the path itself when it exists, else the directory that could not take it.
  let blocking = nearestExisting(e.code === 'ENOENT' ? parent : e.path);
  // Creating, replacing or removing a file needs its directory: that is what to fix (chown -R).
  if (!isDirectory(blocking)) blocking = dirname(blocking);
  // A recursive mkdir may report the leaf's ENOENT when the real cause is the ancestor
  // it could not write (read-only, not ours): ask that ancestor directly.
  const code = e.code === 'ENOENT' || e.code === 'EACCES' ? (writeProblem(blocking) ?? e.code) : e.code;
  const key = keyOfPath(blocking) ?? keyOfPath(e.path);
  const me = currentUser();
  const reason = `${REASON[code]} (${code})`;
  const message = `${where(key, blocking)}: ${reason} on ${e.path}`;
  const otherwise = key ? `, or set ${key.key} to a directory ${me} can write` : '';
  let hint: string;
  switch (code) {
    case 'EACCES':
    case 'EPERM': {
      let owner: number | undefined;
      try {
        owner = statSync(blocking).uid;
      } catch {
        owner = undefined;
      }
      hint =
        owner !== undefined && owner !== currentUid()
          ? `${blocking} belongs to ${userName(owner)}: give it to ${me} (as root: chown -R ${me} ${blocking})${otherwise}`
          : `let ${me} write ${blocking} (chmod u+rwx ${blocking})${otherwise}`;
      break;
    }
    case 'EROFS':
      hint = `${blocking} is on a read-only filesystem: remount it read-write${otherwise}`;
      break;
    case 'ENOSPC':
    case 'EDQUOT':
      hint = `free space on the filesystem holding ${blocking} (old releases, logs), then run again`;
      break;
    default:
      hint = `create ${parent} (install -d -o ${me} ${parent})${key ? `, or fix ${key.key}` : ''}`;
  }
  return new EnvironmentError(message, { target: target ?? key?.target, hint, cause: err });
}
