import type { Config, Target } from '../config/normalise.js';
import { EnvironmentError } from '../errors.js';
import { requireOwnership } from '../host/ownership.js';
import { tryLock } from '../state/lock.js';
import { ensureStateDir } from '../state/store.js';

/**
 * Runs `work` holding the target's lock, so an operator command never races a run.
 * Never waits: a busy target is an error naming what to do.
 */
export async function withTargetLock<T>(config: Config, target: Target, work: (workDir: string) => Promise<T>): Promise<T> {
  // An operator command as the wrong user stops before it writes, like run.
  requireOwnership(config, [target]);
  const workDir = ensureStateDir(config.stateDir, target.name);
  const lock = await tryLock(config.stateDir, target.name);
  if (!lock) {
    throw new EnvironmentError('busy: a run holds this target\'s lock', {
      target: target.name,
      hint: 'wait for it to finish (pollpray status shows the last check), then try again',
    });
  }
  try {
    return await work(workDir);
  } finally {
    await lock.release();
  }
}
