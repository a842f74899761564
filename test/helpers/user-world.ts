/**
 * A makeWorld() handed to the sudo fixture's unprivileged user: the config, origin,
 * state and log dirs belong to that user, and `cli()` runs the built CLI as that user.
 */
import { join } from 'node:path';
import { makeOrigin, type Origin } from './origin.js';
import { BIN, makeWorld, type World } from './pollpray-cli.js';
import type { RunResult, SudoFixture } from './sudo-user.js';

export interface UserWorld {
  origin: Origin;
  world: World;
  path: string;
  /** The origin's head, read before the hand-over (root's git refuses a repo owned by another user). */
  head: string;
  /** Rewrites the config (systemctl is the fixture's stub) and hands it to the user. */
  writeConfig(target: Record<string, unknown>, top?: Record<string, unknown>): Promise<void>;
  cli(args: string[], opts?: { timeoutMs?: number }): Promise<RunResult>;
}

export async function makeUserWorld(sudo: SudoFixture, target: Record<string, unknown> = {}): Promise<UserWorld> {
  const origin = await makeOrigin();
  const world = makeWorld();
  const path = join(world.dir, 'www', 'app');
  const writeConfig = async (t: Record<string, unknown>, top: Record<string, unknown> = {}) => {
    world.writeConfig({ systemctl: sudo.systemctl, ...top, targets: { app: { repo: origin.url, path, restart: ['app.service'], ...t } } });
    await sudo.giveToUser(world.dir);
  };
  await writeConfig(target);
  const head = await origin.head();
  await sudo.giveToUser(origin.dir);
  return {
    origin,
    world,
    path,
    head,
    writeConfig,
    cli: (args, opts = {}) =>
      sudo.runAs(['node', BIN, ...args], { cwd: world.dir, env: { POLLPRAY_CONFIG: world.configFile, GIT_CONFIG_NOSYSTEM: '1' }, timeoutMs: opts.timeoutMs }),
  };
}
