import type { Config, Target } from '../config/normalise.js';
import { EnvironmentError } from '../errors.js';
import { requireOwnership } from '../host/ownership.js';
import { lockPath, requirePathOwner } from '../deploy/path-owner.js';
import { bothLocks, tryLock } from '../state/lock.js';
import { ensureStateDir } from '../state/store.js';

/**
 * Runs `work` holding the target's lock, so an operator command never races a run.
 * Never waits: a busy target is an error naming what to do. A command that changes the
 * deployed code (`writesPath`) also needs the path to be this config's, and holds it.
 */
export async function withTargetLock<T>(config: Config, target: Target, work: (workDir: string) => Promise<T>, options: { writesPath?: boolean } = {}): Promise<T> {
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
  let held = lock;
  try {
    if (options.writesPath) {
      // Another config's state dir deploys this path: its versions are not this state's to switch.
      requirePathOwner(config, target);
      held = bothLocks(lock, await lockPath(target));
    }
    return await work(workDir);
  } finally {
    await held.release();
  }
}
