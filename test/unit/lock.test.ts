/**
 * The per-target lock: one holder per state directory and target. Two installs (two
 * configs with their own state_dir) that happen to name a target alike must not
 * exclude each other, or one of them would skip its deploys for as long as the other runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { tryLock, type Lock } from '../../src/state/lock.js';

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-lock-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function held(dir: string, target: string): Promise<Lock> {
  const lock = await tryLock(dir, target);
  if (!lock) throw new Error(`expected to get the lock of ${target} in ${dir}`);
  onTestFinished(() => lock.release());
  return lock;
}

it('a held target lock turns the next taker away until it is released', async () => {
  const dir = stateDir();
  const lock = await held(dir, 'app');
  expect(await tryLock(dir, 'app')).toBeUndefined();
  await lock.release();
  await held(dir, 'app');
});

it('the same target name under two state directories is two locks', async () => {
  const [one, two] = [stateDir(), stateDir()];
  await held(one, 'app');
  await held(two, 'app');
});

it('two targets in one state directory do not exclude each other', async () => {
  const dir = stateDir();
  await held(dir, 'app');
  await held(dir, 'api');
});
