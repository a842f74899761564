/**
 * Ending a process group with real processes. A group whose members have all exited but
 * are not reaped yet (their parent does not wait for them, as a container's PID 1 may not)
 * holds nothing that could still run: ending it must not sit out the grace period.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, it, onTestFinished } from 'vitest';
import { groupAlive, killAllChildren, killGroup, trackGroup, untrackGroup } from '../../src/exec/groups.js';
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

/** A detached group whose shell ignores SIGTERM (a script that traps it), with its pgid. */
function stubbornGroup(): number {
  const leader = spawn('sh', ['-c', "trap '' TERM; while :; do sleep 0.05; done"], { detached: true, stdio: 'ignore' });
  const pgid = leader.pid as number;
  onTestFinished(() => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  return pgid;
}

it('a group that ignores SIGTERM is killed once the grace is over, not before', async () => {
  const pgid = stubbornGroup();
  await new Promise((r) => setTimeout(r, 200)); // let the trap be set
  const started = Date.now();
  await killGroup(pgid, 600);
  expect(Date.now() - started).toBeGreaterThanOrEqual(550);
  await until(() => !groupAlive(pgid), 5_000, 'the group to end after SIGKILL');
});

it('killing a group that is already gone returns at once', async () => {
  const gone = spawn('true', { detached: true, stdio: 'ignore' });
  const pgid = gone.pid as number;
  await new Promise((r) => gone.once('exit', r));
  await until(() => !groupAlive(pgid), 5_000, 'the exited group to be reaped');
  const started = Date.now();
  await killGroup(pgid, 5_000);
  expect(Date.now() - started).toBeLessThan(1_000);
});

it('on SIGINT/SIGTERM of pollpray, every tracked group gets the signal; an untracked one does not', async () => {
  const tracked = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  const untracked = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  onTestFinished(() => {
    untrackGroup(tracked.pid as number);
    tracked.kill('SIGKILL');
    untracked.kill('SIGKILL');
  });
  trackGroup(tracked.pid as number);
  trackGroup(untracked.pid as number);
  untrackGroup(untracked.pid as number);
  const ended = new Promise<NodeJS.Signals | null>((r) => tracked.once('exit', (_code, signal) => r(signal)));
  const untrackedEnded = new Promise<NodeJS.Signals | null>((r) => untracked.once('exit', (_code, signal) => r(signal)));
  killAllChildren();
  // The first fatal signal sent decides how a process ends (the kernel records it at once),
  // so this SIGKILL is how the untracked one ends only if killAllChildren sent it nothing.
  untracked.kill('SIGKILL');
  expect(await ended).toBe('SIGTERM');
  expect(await untrackedEnded).toBe('SIGKILL');
  const hup = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  onTestFinished(() => {
    untrackGroup(hup.pid as number);
    hup.kill('SIGKILL');
  });
  untrackGroup(tracked.pid as number);
  trackGroup(hup.pid as number);
  const hupEnded = new Promise<NodeJS.Signals | null>((r) => hup.once('exit', (_code, signal) => r(signal)));
  killAllChildren('SIGHUP');
  expect(await hupEnded).toBe('SIGHUP');
});
