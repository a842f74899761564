/**
 * The steps after the code is on disk, shared by the cycle and the rollback command:
 * restart the allowlisted units, check health, and roll back to a previous version.
 */
import { currentUser } from '../host/users.js';
import type { Config, Target } from '../config/normalise.js';
import { restartUnit } from '../exec/sudo.js';
import { log } from '../log/logger.js';
import { checkHealth } from './health.js';
import { runDeployment } from './pipeline.js';
import type { Prepared, Strategy, Version } from './strategy.js';

export async function restartUnits(config: Config, target: Target, workDir: string, commit: string): Promise<void> {
  for (const unit of target.restart) {
    const t0 = Date.now();
    await restartUnit({ manager: target.serviceManager, unit, allowlist: target.restart, target: target.name, user: currentUser(), cwd: workDir });
    log.info(`restarted ${unit}`, { target: target.name, commit, step: 'restart', durationMs: Date.now() - t0 });
  }
}

/** Restart, then health: what makes a version count as live and well. */
export async function restartAndCheck(config: Config, target: Target, workDir: string, live: Prepared): Promise<void> {
  await restartUnits(config, target, workDir, live.sha);
  await checkHealth(target, live.dir, live.sha);
}

/**
 * Puts `to` back (releases: switch `current`; in-place: reset and run the deploy
 * script again, with POLLPRAY_ROLLBACK=1), restarts and checks health again.
 */
export async function rollBackTo(
  config: Config,
  target: Target,
  strategy: Strategy,
  workDir: string,
  to: Version,
  fromSha: string,
): Promise<Prepared> {
  log.warn(`rolling back to ${to.release ? `release ${to.release}` : to.sha.slice(0, 12)}`, { target: target.name, commit: to.sha, step: 'rollback' });
  const restored = await strategy.restore(to, (p) =>
    runDeployment(target, { oldSha: fromSha, newSha: p.sha, releaseDir: p.dir, dryRun: false, workDir, rollback: true }),
  );
  await restartAndCheck(config, target, workDir, restored);
  return restored;
}
