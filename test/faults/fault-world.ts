/**
 * One target (in-place or releases) on a real file:// origin, with the checks every fault
 * row makes: one stderr line `pollpray: <target>: … (fix: …)`, the deployed code and
 * state as they were, and a clean recovery once the fault is gone.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { makeOrigin, type Origin } from '../helpers/origin.js';
import { linesOf, makeWorld, type World } from '../helpers/pollpray-cli.js';

export interface FaultWorld {
  origin: Origin;
  world: World;
  path: string;
  /** Rewrites the config; `target` is merged over the base target, `top` over the top level. */
  write(target?: Record<string, unknown>, top?: Record<string, unknown>): void;
  /** The 12-digit commit on disk: `current`'s release suffix or the checkout's HEAD. */
  live(): string;
  /** Lines the deploy script appended (`NEW_SHA ROLLBACK`). */
  calls(): string[];
}

export async function faultWorld(opts: { strategy?: 'in-place' | 'releases'; script?: string; target?: Record<string, unknown> } = {}): Promise<FaultWorld> {
  const origin = await makeOrigin();
  const world = makeWorld();
  const path = join(world.dir, 'www', 'app');
  const strategy = opts.strategy ?? 'in-place';
  const deploy = world.script('deploy.sh', `echo "$POLLPRAY_NEW_SHA $POLLPRAY_ROLLBACK" >> "${world.dir}/calls.log"\n${opts.script ?? ''}`);
  const write = (target: Record<string, unknown> = {}, top: Record<string, unknown> = {}) =>
    world.writeConfig({
      ...top,
      targets: {
        app: { repo: origin.url, path, strategy, deploy, deploy_timeout: '5s', git_timeout: '5s', ...(strategy === 'releases' ? { min_free_space: '1MB' } : {}), ...opts.target, ...target },
      },
    });
  write();
  return {
    origin,
    world,
    path,
    write,
    live() {
      if (strategy === 'releases') {
        return readlinkSync(join(path, 'current')).slice(-12);
      }
      return execFileSync('git', ['-C', path, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim().slice(0, 12);
    },
    calls() {
      const file = join(world.dir, 'calls.log');
      return linesOf(file);
    },
  };
}

/** The run's error: exactly one `pollpray: <target>: message (fix: …)` line naming the target and the fix. */
export function expectOneLineError(stderr: string, target: string, message: RegExp): void {
  const lines = stderr.trim().split('\n').filter((l) => l.startsWith('pollpray: '));
  const mine = lines.filter((l) => l.startsWith(`pollpray: ${target}: `));
  expect(mine, stderr).toHaveLength(1);
  expect(mine[0], stderr).toMatch(/ \(fix: .+\)$/);
  expect(mine[0], stderr).toMatch(message);
}

/** state.json parses and records `deployedSha`. */
export function expectState(world: World, target: string, fields: Record<string, unknown>): void {
  const file = join(world.stateDir, 'targets', target, 'state.json');
  const state = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  expect(state).toMatchObject(fields);
}

export function releaseDirs(path: string): string[] {
  return existsSync(join(path, 'releases')) ? readdirSync(join(path, 'releases')).sort() : [];
}

export const short = (sha: string): string => sha.slice(0, 12);
