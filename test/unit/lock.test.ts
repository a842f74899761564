/**
 * The per-target lock: one holder per state directory and target. Two installs (two
 * configs with their own state_dir) that happen to name a target alike must not
 * exclude each other, or one of them would skip its deploys for as long as the other runs.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { bothLocks, tryLock, tryPathLock, type Lock } from '../../src/state/lock.js';

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

it('a state dir and target that spell the same characters when run together are still two locks', async () => {
  // /tmp/x/app + target "s" and /tmp/x/ap + target "ps": the two names must not meet in the middle.
  const base = stateDir();
  await held(join(base, 'app'), 's');
  await held(join(base, 'ap'), 'ps');
});

it('a lock that cannot be taken for another reason (no file descriptor left) is an error, not "held by another run"', async () => {
  const dir = stateDir();
  // Use up this process's descriptors, as a leak or a low ulimit would; give them back before asserting.
  const fds: number[] = [];
  let outcome: Lock | string | undefined;
  try {
    try {
      for (;;) fds.push(openSync('/dev/null', 'r'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EMFILE') throw err;
    }
    outcome = await tryLock(dir, 'app').catch((err: NodeJS.ErrnoException) => err.code);
  } finally {
    for (const fd of fds) closeSync(fd);
  }
  if (typeof outcome === 'object') await outcome.release();
  expect(outcome).toBe('EMFILE');
});

it('a deploy path is one lock however it is spelled: through a link, or before it exists', async () => {
  const dir = stateDir();
  mkdirSync(join(dir, 'srv'));
  symlinkSync(join(dir, 'srv'), join(dir, 'link'));
  const lock = await tryPathLock(join(dir, 'srv', 'app'));
  expect(lock).toBeDefined();
  expect(await tryPathLock(join(dir, 'link', 'app'))).toBeUndefined();
  expect(await tryPathLock(`${join(dir, 'srv')}//app/`)).toBeUndefined();
  // Another path, and the target lock of a state dir at the same place, are not held by it.
  const other = await tryPathLock(join(dir, 'srv', 'api'));
  expect(other).toBeDefined();
  const both = bothLocks(lock!, other!);
  await held(join(dir, 'srv'), 'app');
  await both.release();
  const again = await tryPathLock(join(dir, 'link', 'app'));
  expect(again).toBeDefined();
  await again!.release();
});
