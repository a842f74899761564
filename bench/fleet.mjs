#!/usr/bin/env node
/**
 * How long a 10-host fleet takes to roll one commit with max_in_flight 1, 2 and 5.
 *
 * Ten `pollpray run` processes (the built CLI, distinct POLLPRAY_HOST_ID, own state and
 * checkout) start at once against one local bare repo and one redis-server started
 * here on a free loopback port. The deploy script sleeps a fixed time (FLEET_BENCH_SLEEP,
 * default 1s), so the ideal roll time is ceil(10 / max_in_flight) x sleep. Every host
 * deploys the first commit once, unmeasured, so each round measures one commit rolled
 * over hosts that already have a checkout. Ratios are against max_in_flight 1 in the same run;
 * the last row (max_in_flight = hosts) is the floor: ten runs with nothing to wait for.
 *
 *   npm run bench:fleet          FLEET_BENCH_HOSTS=10 FLEET_BENCH_SLEEP=1 FLEET_BENCH_ROUNDS=1
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../bin/pollpray.js');
const HOSTS = Number(process.env.FLEET_BENCH_HOSTS ?? 10);
const SLEEP = Number(process.env.FLEET_BENCH_SLEEP ?? 1);
const ROUNDS = Number(process.env.FLEET_BENCH_ROUNDS ?? 1);
// HOSTS: every host at once, the fixed cost of a run with no waiting at all.
const LEVELS = [1, 2, 5, HOSTS];

const dir = mkdtempSync(join(tmpdir(), 'pollpray-bench-fleet-'));
const gitEnv = { ...process.env, HOME: join(dir, 'home'), GIT_CONFIG_NOSYSTEM: '1' };
const git = (args, cwd) => run('git', args, { cwd, env: gitEnv });
let redis;

async function freePort() {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  return port;
}

async function startRedis(port) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
  for (let i = 0; i < 250; i++) {
    const ok = await new Promise((r) => {
      const c = createServer();
      c.once('error', () => r(true)); // port taken: redis listens
      c.listen(port, '127.0.0.1', () => c.close(() => r(false)));
    });
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('redis-server did not start');
}

async function commit(work, name) {
  writeFileSync(join(work, name), `${name}\n`);
  await git(['add', name], work);
  await git(['-c', 'user.name=bench', '-c', 'user.email=bench@invalid', '-c', 'commit.gpgsign=false', 'commit', '-q', '-m', name], work);
  await git(['push', '-q', 'origin', 'HEAD:refs/heads/main'], work);
}

function writeConfigs(url, maxInFlight) {
  for (let i = 0; i < HOSTS; i++) {
    const h = join(dir, `host-${i}`);
    mkdirSync(h, { recursive: true });
    writeFileSync(
      join(h, 'pollpray.yaml'),
      [
        `state_dir: ${h}/state`,
        `log: { dir: ${h}/log }`,
        `coordination: { redis: "${url}", group: bench, max_in_flight: ${maxInFlight}, wait: 10m, lease: 30s }`,
        'targets:',
        `  app: { repo: "file://${dir}/origin.git", path: ${h}/app, deploy: ${dir}/deploy.sh }`,
        '',
      ].join('\n'),
      { mode: 0o640 },
    );
  }
}

/**
 * Wall time of all ten runs, and the rollout span: first deploy script start to last
 * end, which leaves out process start-up and the unchanged-poll tail.
 */
async function rollAll() {
  rmSync(join(dir, 'events'), { force: true });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: HOSTS }, (_, i) =>
      run('node', [BIN, 'run'], { cwd: join(dir, `host-${i}`), env: { ...gitEnv, POLLPRAY_CONFIG: join(dir, `host-${i}`, 'pollpray.yaml'), POLLPRAY_HOST_ID: `host-${i}` } }),
    ),
  );
  const wall = performance.now() - t0;
  const lines = readFileSync(join(dir, 'events'), 'utf8').trim().split('\n').map((l) => l.split(' '));
  const at = (kind) => lines.filter(([k]) => k === kind).map(([, ns]) => Number(BigInt(ns) / 1_000_000n));
  return { wall, span: Math.max(...at('end')) - Math.min(...at('start')) };
}

try {
  mkdirSync(gitEnv.HOME);
  await git(['init', '-q', '--bare', '-b', 'main', join(dir, 'origin.git')], dir);
  await git(['clone', '-q', join(dir, 'origin.git'), join(dir, 'work')], dir);
  writeFileSync(join(dir, 'deploy.sh'), `#!/bin/sh\necho "start $(date +%s%N)" >> ${dir}/events\nsleep ${SLEEP}\necho "end $(date +%s%N)" >> ${dir}/events\n`);
  chmodSync(join(dir, 'deploy.sh'), 0o755);
  const port = await freePort();
  redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}/0`;

  await commit(join(dir, 'work'), 'c0');
  writeConfigs(url, HOSTS);
  await rollAll(); // every host clones once, unmeasured

  const results = [];
  let n = 0;
  for (const level of LEVELS) {
    writeConfigs(url, level);
    const times = [];
    for (let r = 0; r < ROUNDS; r++) {
      await commit(join(dir, 'work'), `c${++n}`);
      times.push(await rollAll());
    }
    times.sort((a, b) => a.span - b.span);
    results.push({ level, ...times[0] });
  }
  const base = results[0];
  const s = (ms) => `${(ms / 1000).toFixed(1)}s`;
  console.log(`${HOSTS} hosts, deploy script sleeps ${SLEEP}s, best of ${ROUNDS} round(s); ideal rollout = ceil(${HOSTS}/max_in_flight) x ${SLEEP}s`);
  console.log('rollout = first deploy start to last deploy end; wall = all runs, process start to exit');
  console.log('max_in_flight  rollout  vs 1   ideal   wall  vs 1');
  for (const r of results) {
    console.log(
      `${String(r.level).padStart(13)}  ${s(r.span).padStart(7)}  ${(r.span / base.span).toFixed(2)}  ${s(Math.ceil(HOSTS / r.level) * SLEEP * 1000).padStart(5)}  ${s(r.wall).padStart(5)}  ${(r.wall / base.wall).toFixed(2)}`,
    );
  }
} finally {
  if (redis?.pid) redis.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
