/**
 * A git killed mid-command (kill -9, OOM, a run killed at its timeout) leaves
 * `.git/index.lock` behind, and every later checkout fails on it until someone deletes
 * it by hand. Callers hold the target's pollpray lock, and the previous run's leftover
 * processes are ended before a deploy, so no git of ours can still own the file.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../log/logger.js';

export function removeStaleIndexLock(checkout: string, target: string): void {
  const lock = join(checkout, '.git', 'index.lock');
  if (!existsSync(lock)) return;
  rmSync(lock, { force: true });
  log.warn(`removed stale ${lock} left by an interrupted git`, { target, step: 'fetch' });
}
