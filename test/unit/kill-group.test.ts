/**
 * Ending a process group with real processes. A group whose members have all exited but
 * are not reaped yet (their parent does not wait for them, as a container's PID 1 may not)
 * holds nothing that could still run: ending it must not sit out the grace period.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, it, onTestFinished } from 'vitest';
import { groupAlive, killGroup } from '../../src/exec/groups.js';
import { until } from '../helpers/pollpray-cli.js';

const state = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];

/** A group whose one member is a zombie: `set -m` gives the job its own group, and the `exec`ed sleep never reaps it. */
async function zombieGroup(): Promise<number> {
  const parent = spawn('bash', ['-c', 'set -m; sleep 0.1 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  onTestFinished(() => {
    parent.kill('SIGKILL');
  });
  const pgid = await new Promise<number>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
  await until(() => state(pgid) === 'Z', 5_000, 'the job to exit');
  return pgid;
}

it('a group of only zombies counts as ended, and killing it returns without waiting out the grace', async () => {
  const pgid = await zombieGroup();
  expect(groupAlive(pgid)).toBe(false);
  const started = Date.now();
  await killGroup(pgid, 20_000);
  expect(Date.now() - started).toBeLessThan(10_000);
});

it('a group with a running member is alive until it is killed', async () => {
  const leader = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  onTestFinished(() => {
    leader.kill('SIGKILL');
  });
  const pgid = leader.pid as number;
  expect(groupAlive(pgid)).toBe(true);
  await killGroup(pgid, 5_000);
  await until(() => !groupAlive(pgid), 5_000, 'the group to end');
});

/** Running (not a zombie, not gone): a reparented orphan is reaped at once, so gone is the usual end. */
function running(pid: number): boolean {
  try {
    return state(pid) !== 'Z';
  } catch {
    return false; // no /proc entry: gone
  }
}

it('killing a group ends its leader and the children the leader started, not the leader alone', async () => {
  // A deploy script's shell (the leader) and a command it started in the background (the child).
  const leader = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  const pgid = leader.pid as number;
  onTestFinished(() => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const child = await new Promise<number>((resolve) => leader.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
  expect(running(child)).toBe(true);

  await killGroup(pgid, 2_000);

  await until(() => !running(leader.pid as number) && !running(child), 5_000, 'the leader and its child to end');
  expect(groupAlive(pgid)).toBe(false);
});
