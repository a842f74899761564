/**
 * A fleet on one machine: several pollpray processes (the built CLI, each with its own
 * POLLPRAY_HOST_ID, config, state and checkout) against one origin and one real
 * redis-server. Deploy scripts append "start|end HOST SHA NANOS" to one shared file, so
 * the tests see exactly who deployed what, when, and how many at once.
 */
import { execa, type ResultPromise } from 'execa';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { makeOrigin, type Origin } from '../helpers/origin.js';
import { BIN, linesOf, makeWorld, pidFile, processGone, until, type CliResult, type World } from '../helpers/pollpray-cli.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { requireBinary } from '../helpers/require-env.js';

interface Event {
  kind: 'start' | 'end';
  host: string;
  sha: string;
  ns: bigint;
}

interface Host {
  id: string;
  world: World;
  path: string;
  run(extraArgs?: string[]): ResultPromise;
  state(): Record<string, unknown> | undefined;
}

interface FleetSetup {
  hosts: Host[];
  events(): Event[];
  shared: World;
}

let redis: RedisServer;
let groupSeq = 0;

/** Hosts `c1..` (canaries) then `f1..` (followers), one deploy script for all. */
function makeFleet(origin: Origin, opts: { canaries: number; followers: number; coordination: Record<string, unknown>; script?: string }): FleetSetup {
  const shared = makeWorld();
  const eventsFile = join(shared.dir, 'events.log');
  const deploy = shared.script(
    'deploy.sh',
    [
      `echo "start $POLLPRAY_HOST_ID $POLLPRAY_NEW_SHA $(date +%s%N)" >> "${eventsFile}"`,
      `echo $$ > "${shared.dir}/$POLLPRAY_HOST_ID.pid"`,
      opts.script ?? 'sleep 0.3',
      `echo "end $POLLPRAY_HOST_ID $POLLPRAY_NEW_SHA $(date +%s%N)" >> "${eventsFile}"`,
    ].join('\n'),
  );
  const group = `fleet-${process.pid}-${++groupSeq}`;
  const ids = [...Array.from({ length: opts.canaries }, (_, i) => `c${i + 1}`), ...Array.from({ length: opts.followers }, (_, i) => `f${i + 1}`)];
  const hosts = ids.map((id): Host => {
    const world = makeWorld();
    const path = join(world.dir, 'www', 'app');
    world.writeConfig({
      coordination: { redis: redis.url, group, canary: id.startsWith('c'), ...opts.coordination },
      targets: { app: { repo: origin.url, path, deploy, deploy_timeout: '1m' } },
    });
    return {
      id,
      world,
      path,
      run: (extraArgs = []) => execa('node', [BIN, 'run', ...extraArgs], { cwd: world.dir, env: { ...world.env, POLLPRAY_HOST_ID: id }, reject: false, timeout: 60_000 }),
      state: () => world.state('app'),
    };
  });
  const events = (): Event[] =>
    linesOf(eventsFile)
      .map((l) => l.split(' '))
      .map(([kind, host, sha, ns]) => ({ kind: kind as Event['kind'], host: host!, sha: sha!, ns: BigInt(ns!) }));
  return { hosts, events, shared };
}

/** The most deploys that ever overlapped, from the start/end events. */
function maxConcurrent(events: Event[]): number {
  let now = 0;
  let max = 0;
  // At equal timestamps an end is counted before a start: touching intervals do not overlap.
  const sorted = [...events].sort((a, b) => (a.ns === b.ns ? (a.kind === 'end' ? -1 : 1) : a.ns < b.ns ? -1 : 1));
  for (const e of sorted) {
    now += e.kind === 'start' ? 1 : -1;
    max = Math.max(max, now);
  }
  return max;
}

async function all(hosts: Host[], extraArgs?: string[]): Promise<CliResult[]> {
  const results = await Promise.all(hosts.map((h) => h.run(extraArgs)));
  return results.map((r) => ({ exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), durationMs: 0 }));
}

// Up to 9 CLI processes at once: give a loaded 2-core machine room.
describe.skipIf(requireBinary('redis-server', 'redis-server'))('a fleet coordinated through Redis', { timeout: 90_000 }, () => {
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('rolls a commit over 8 hosts: canary first, followers after its healthy verdict, never more than max_in_flight at once', async () => {
    const origin = await makeOrigin();
    const fleet = makeFleet(origin, { canaries: 1, followers: 7, coordination: { max_in_flight: 2, wait: '30s', lease: '5s' } });
    const [canary, ...followers] = fleet.hosts;
    // The canary's first run registers it as the group's canary; the followers have never deployed.
    expect((await canary!.run()).exitCode).toBe(0);
    const first = await origin.head();
    expect(followers.every((f) => f.state() === undefined)).toBe(true);

    const second = await origin.commit({ 'v2.txt': 'v2\n' }, 'Second version');
    const results = await all(fleet.hosts);
    for (const r of results) expect(r.exitCode, r.stderr).toBe(0);
    for (const h of fleet.hosts) expect(h.state()).toMatchObject({ deployedSha: second, lastResult: 'deployed' });

    const events = fleet.events();
    expect(events.filter((e) => e.kind === 'start' && e.sha === first).map((e) => e.host)).toEqual(['c1']);
    expect(events.filter((e) => e.kind === 'start' && e.sha === second)).toHaveLength(8);
    expect(maxConcurrent(events)).toBeLessThanOrEqual(2);
    expect(maxConcurrent(events)).toBe(2); // the fleet did use both slots
    const rollout = events.filter((e) => e.sha === second);
    const canaryEnd = rollout.find((e) => e.host === 'c1' && e.kind === 'end')!;
    for (const e of rollout.filter((x) => x.host !== 'c1' && x.kind === 'start')) expect(e.ns).toBeGreaterThan(canaryEnd.ns);

    const status = await canary!.world.cli(['fleet', 'status', '--json'], { env: { POLLPRAY_HOST_ID: 'c1' } });
    expect(status.exitCode, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { targets: { slots: unknown[]; hosts: { host: string; commit: string; result: string; stale: boolean; canary: boolean }[] }[] };
    expect(report.targets[0]!.slots).toEqual([null, null]);
    expect(report.targets[0]!.hosts.map((h) => [h.host, h.canary, h.commit, h.result, h.stale])).toEqual(
      fleet.hosts.map((h) => [h.id, h.id === 'c1', second, 'deployed', false]),
    );
  });

  it('a commit that fails on the canary is deployed nowhere else, and a new commit clears the way', async () => {
    const origin = await makeOrigin();
    const fleet = makeFleet(origin, { canaries: 1, followers: 3, coordination: { max_in_flight: 2, wait: '20s' }, script: '[ -f fail ] && exit 3; exit 0' });
    const [canary, ...followers] = fleet.hosts;
    await all(fleet.hosts);
    const good = await origin.head();
    for (const h of fleet.hosts) expect(h.state()).toMatchObject({ deployedSha: good });

    const bad = await origin.commit({ fail: '' }, 'Breaks the deploy');
    const results = await all(fleet.hosts);
    expect(results[0]!.exitCode).toBe(1);
    expect(results[0]!.stderr).toMatch(/deploy script exited with 3/);
    for (const r of results.slice(1)) {
      expect(r.exitCode).toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`commit ${bad.slice(0, 12)} failed on canary c1`);
    }
    // Only the canary ever started the bad commit (its script failed before the "end" line).
    expect(fleet.events().filter((e) => e.sha === bad).map((e) => e.host)).toEqual(['c1']);
    for (const h of followers) expect(h.state()).toMatchObject({ deployedSha: good, lastResult: 'skipped' });
    const status = await followers[0]!.world.cli(['status'], { env: { POLLPRAY_HOST_ID: 'f1' } });
    expect(status.stdout).toMatch(/last error: commit .* failed on canary c1/);
    // The canary does not retry the bad commit either.
    expect((await canary!.run()).exitCode).toBe(0);
    expect(fleet.events().filter((e) => e.sha === bad)).toHaveLength(1);

    await origin.git(['rm', '-q', 'fail']);
    await origin.git(['commit', '-q', '-m', 'Fix the deploy']);
    await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
    const fixed = await origin.head();
    const after = await all(fleet.hosts);
    for (const r of after) expect(r.exitCode, r.stderr).toBe(0);
    for (const h of fleet.hosts) expect(h.state()).toMatchObject({ deployedSha: fixed });
  });

  it('with require_canary, a follower of a brand-new group waits for the canary\'s first healthy verdict', async () => {
    const origin = await makeOrigin();
    const fleet = makeFleet(origin, { canaries: 1, followers: 1, coordination: { require_canary: true } });
    const [canary, follower] = fleet.hosts;
    // The follower's cron fires first: no canary has ever run in this group.
    const early = await follower!.run();
    expect(early.exitCode, early.stderr).toBe(0);
    expect(follower!.state()).toMatchObject({ deployedSha: null, lastResult: 'skipped' });
    expect(fleet.events()).toEqual([]);
    expect((await canary!.run()).exitCode).toBe(0);
    expect((await follower!.run()).exitCode).toBe(0);
    expect(follower!.state()).toMatchObject({ deployedSha: await origin.head(), lastResult: 'deployed' });
    expect(fleet.events().filter((e) => e.kind === 'start').map((e) => e.host)).toEqual(['c1', 'f1']);
  });

  it('a host killed with SIGKILL mid-deploy frees its slot when the lease expires', async () => {
    const origin = await makeOrigin();
    const fleet = makeFleet(origin, {
      canaries: 0,
      followers: 2,
      coordination: { max_in_flight: 1, wait: '20s', lease: '2s' },
      script: '[ "$POLLPRAY_HOST_ID" = f1 ] && sleep 60; exit 0',
    });
    const [victim, next] = fleet.hosts;
    const run = victim!.run();
    await until(() => fleet.events().some((e) => e.host === 'f1'), 15_000, 'f1 to start deploying');
    const scriptPid = await pidFile(join(fleet.shared.dir, 'f1.pid'));
    run.kill('SIGKILL');
    await run;
    const killedAt = Date.now();
    try {
      const r = await next!.run();
      expect(r.exitCode, String(r.stderr)).toBe(0);
      expect(next!.state()).toMatchObject({ deployedSha: await origin.head(), lastResult: 'deployed' });
      const started = fleet.events().find((e) => e.host === 'f2' && e.kind === 'start')!;
      // f2 waited for f1's lease (2s, renewed up to the kill) instead of deploying beside it.
      expect(Number(started.ns / 1_000_000n) - killedAt).toBeGreaterThan(1000);
      expect(next!.world.logText()).toMatch(/took deploy slot 1\/1/);
    } finally {
      process.kill(scriptPid, 'SIGKILL');
      await until(() => processGone(scriptPid), 5000, 'the orphaned script');
    }
  });

  it('with Redis stopped no host deploys or damages its state, and all continue when it returns', async () => {
    const origin = await makeOrigin();
    const fleet = makeFleet(origin, { canaries: 0, followers: 3, coordination: { max_in_flight: 2, wait: '10s' } });
    await all(fleet.hosts);
    const old = await origin.head();
    await redis.stop();
    try {
      const next = await origin.commit({ 'v2.txt': 'v2\n' }, 'Second version');
      const results = await all(fleet.hosts);
      for (const [i, r] of results.entries()) {
        expect(r.exitCode, r.stderr).toBe(0);
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^pollpray: app: cannot reach the fleet's Redis at 127\\.0\\.0\\.1:${redis.port}/0 \\(ECONNREFUSED\\): keeping ${old.slice(0, 12)} deployed, not deploying ${next.slice(0, 12)} uncoordinated`));
        expect(fleet.hosts[i]!.state()).toMatchObject({ deployedSha: old, remoteSha: next, lastResult: 'skipped' });
      }
      expect(fleet.events().filter((e) => e.sha === next)).toEqual([]);
    } finally {
      await redis.start();
    }
    const results = await all(fleet.hosts);
    for (const r of results) expect(r.exitCode, r.stderr).toBe(0);
    for (const h of fleet.hosts) expect(h.state()).toMatchObject({ deployedSha: await origin.head(), lastResult: 'deployed', lastError: null });
    expect(maxConcurrent(fleet.events())).toBeLessThanOrEqual(2);
  });

  it('Redis going away mid-deploy never leaves a host half-switched', async () => {
    const origin = await makeOrigin();
    const fleet = makeFleet(origin, { canaries: 0, followers: 1, coordination: { wait: '5s', lease: '1s' }, script: `until [ -f "${'$'}{POLLPRAY_REPO_DIR}/../go" ]; do sleep 0.05; done` });
    const host = fleet.hosts[0]!;
    const run = host.run();
    await until(() => fleet.events().length === 1, 15_000, 'the deploy to start');
    await redis.stop();
    try {
      writeFileSync(join(host.path, '..', 'go'), '');
      const r = await run;
      expect(r.exitCode, String(r.stderr)).toBe(0);
      expect(host.state()).toMatchObject({ deployedSha: await origin.head(), lastResult: 'deployed' });
      expect(host.world.logText()).toMatch(/could not release deploy slot 1 .*it frees itself when its lease expires/);
    } finally {
      await redis.start();
    }
  });
});

describe.skipIf(requireBinary('redis-server', 'redis-server'))('the fleet Redis password', { timeout: 90_000 }, () => {
  it('comes from password_file, and neither it nor a URL password ever reaches output, logs or state', async () => {
    const password = 'hunter2-fleet-secret';
    const server = await startRedis({ password });
    onTestFinished(() => server.stop());
    const origin = await makeOrigin();
    const world = makeWorld();
    writeFileSync(join(world.dir, 'redis.pw'), `${password}\n`, { mode: 0o600 });
    const target = { app: { repo: origin.url, path: join(world.dir, 'www', 'app') } };
    world.writeConfig({ coordination: { redis: server.url, group: 'pw', password_file: 'redis.pw' }, targets: target });
    const ok = await world.cli(['run']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(world.state('app')).toMatchObject({ deployedSha: await origin.head(), lastResult: 'deployed' });
    expect((await world.cli(['fleet', 'status'])).stdout).toMatch(/deployed/);

    // A wrong password in the URL: the run holds the deploy, says so once, and shows no password.
    await origin.commit({ 'v2.txt': 'v2\n' }, 'Second');
    world.writeConfig({ coordination: { redis: `redis://:wrong-${password}@127.0.0.1:${server.port}/0`, group: 'pw' }, targets: target });
    const held = await world.cli(['run']);
    expect(held.exitCode).toBe(0);
    expect(held.stderr.trim().split('\n')).toHaveLength(1);
    expect(held.stderr).toMatch(/the fleet's Redis at 127\.0\.0\.1:\d+\/0 failed: WRONGPASS .*: keeping \w{12} deployed/);
    const everything = [ok.stdout, ok.stderr, held.stdout, held.stderr, world.logText(), JSON.stringify(world.state('app'))].join('\n');
    expect(everything).not.toContain(password);
  });
});
