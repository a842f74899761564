#!/usr/bin/env node
// pollpray benchmark: ratios against baselines measured in the same run, on the loopback
// sshd fixture of ../shared/bench (20 bare repos, user gitsrv). Run as root:
//   npm run bench            (PORT, ROOT, REPS override the defaults below)
// Prints a table; bench/README.md records what was measured on the reference machine.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO_ROOT = resolve(import.meta.dirname, '..');
const FIXTURES = resolve(REPO_ROOT, '../shared/bench');
const BIN = join(REPO_ROOT, 'bin/pollpray.js');
const PORT = process.env.PORT ?? '2322';
const ROOT = process.env.ROOT ?? `/tmp/pp-bench-${PORT}`;
const REPS = Number(process.env.REPS ?? 5);
const N = 20;
const WORK = join(ROOT, 'pollpray');
const KEYS = join(ROOT, 'keys');

if (process.getuid?.() !== 0) {
  console.error('bench: run as root (the fixture creates the gitsrv user and its repos)');
  process.exit(1);
}

function sh(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', ...opts, env: { ...process.env, ...opts.env } });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`${argv.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

function timed(argv, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = sh(argv, opts);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, r };
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function measure(argv, opts = {}, reps = REPS, before = () => {}) {
  const times = [];
  for (let i = 0; i < reps; i++) {
    before();
    times.push(timed(argv, opts).ms);
  }
  return median(times);
}

const sshEnv = { GIT_SSH_COMMAND: `ssh -F ${KEYS}/ssh_config`, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
const repo = (i) => `pp-origin:repos/app${i}.git`;

function writeConfig(file, count, extra = {}) {
  const lines = [`state_dir: ${WORK}/state-${count}`, `log: { dir: ${WORK}/log, level: info }`, `concurrency: ${extra.concurrency ?? 4}`, 'targets:'];
  for (let i = 1; i <= count; i++) {
    lines.push(
      `  t${i}:`,
      `    repo: ${repo(((i - 1) % N) + 1)}`,
      `    path: ${WORK}/www-${count}/t${i}`,
      `    ssh: { config: ${KEYS}/ssh_config, key: ${KEYS}/deploy, known_hosts: ${KEYS}/known_hosts }`,
    );
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Marks every target as deployed at the current head without cloning (state is what a no-change run reads). */
function seedState(count) {
  const heads = new Map();
  for (let i = 1; i <= N; i++) heads.set(i, sh(['git', 'ls-remote', repo(i), 'refs/heads/main'], { env: sshEnv }).stdout.split('\t')[0]);
  for (let i = 1; i <= count; i++) {
    const dir = join(WORK, `state-${count}`, 'targets', `t${i}`);
    mkdirSync(dir, { recursive: true });
    const sha = heads.get(((i - 1) % N) + 1);
    const now = new Date().toISOString();
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 1, target: `t${i}`, branch: 'main', deployedSha: sha, previousSha: null, remoteSha: sha, lastCheck: now, lastSuccess: now, lastResult: 'deployed', lastError: null, paused: false }));
  }
}

function pollpray(config, extraArgs = []) {
  return ['node', BIN, '--config', config, ...extraArgs];
}

function peakRss(config) {
  const file = join(WORK, 'rss');
  rmSync(file, { force: true });
  sh(['node', '--import', join(REPO_ROOT, 'bench/rss-probe.mjs'), BIN, '--config', config, 'run', '--no-splay'], { env: { POLLPRAY_BENCH_RSS_FILE: file } });
  return Number(readFileSync(file, 'utf8')) / 1024;
}

const rows = [];
const row = (label, ms, base) => rows.push([label, ms, base]);
let sshdPid;

try {
  sh(['bash', join(FIXTURES, 'sshd-fixture.sh')], { env: { ROOT, PORT, N: String(N) } });
  sshdPid = Number(readFileSync(join(ROOT, 'etc/sshd.pid'), 'utf8'));
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  rmSync(join(ROOT, 'classic'), { recursive: true, force: true });

  // --- 20 targets, nothing changed -------------------------------------------------
  const c20 = writeConfig(join(WORK, 'c20.yaml'), 20);
  const c20x8 = writeConfig(join(WORK, 'c20x8.yaml'), 20, { concurrency: 8 });
  sh(pollpray(c20, ['run', '--no-splay'])); // first deploy: 20 clones (not timed)
  sh(['bash', join(FIXTURES, 'classic-poller.sh'), String(N)], { env: { ROOT } }); // its clones (not timed)
  const loop = (mux) =>
    [
      'set -e',
      mux ? `export GIT_SSH_COMMAND="ssh -F ${KEYS}/ssh_config -o ControlMaster=auto -o ControlPath=${ROOT}/cm-%C -o ControlPersist=30s"` : `export GIT_SSH_COMMAND="ssh -F ${KEYS}/ssh_config"`,
      `for i in $(seq 1 ${N}); do git ls-remote pp-origin:repos/app$i.git refs/heads/main >/dev/null; done`,
      mux ? `ssh -F ${KEYS}/ssh_config -o ControlPath=${ROOT}/cm-%C -O exit pp-origin 2>/dev/null` : 'true',
    ].join('\n');
  const p20 = measure(pollpray(c20, ['run', '--no-splay']));
  const p20x8 = measure(pollpray(c20x8, ['run', '--no-splay']));
  const classic = measure(['bash', join(FIXTURES, 'classic-poller.sh'), String(N)], { env: { ROOT } });
  const rawSeq = measure(['bash', '-c', loop(false)], { env: { GIT_CONFIG_NOSYSTEM: '1' } });
  const rawMux = measure(['bash', '-c', loop(true)], { env: { GIT_CONFIG_NOSYSTEM: '1' } });
  row('20 unchanged: pollpray run (concurrency 4)', p20, p20);
  row('20 unchanged: pollpray run (concurrency 8)', p20x8, p20);
  row('20 unchanged: classic-poller.sh (fetch each)', classic, p20);
  row('20 unchanged: raw sequential git ls-remote', rawSeq, p20);
  row('20 unchanged: raw sequential multiplexed ls-remote', rawMux, p20);

  // --- 1 target ----------------------------------------------------------------------
  const c1 = writeConfig(join(WORK, 'c1.yaml'), 1);
  sh(pollpray(c1, ['run', '--no-splay']));
  const rawClone = join(WORK, 'raw-clone');
  sh(['git', 'clone', '-q', repo(1), rawClone], { env: sshEnv });
  const nodeStart = measure(['node', '-e', '0'], {}, 10);
  const p1 = measure(pollpray(c1, ['run', '--no-splay']));
  const raw1 = measure(['git', 'ls-remote', repo(1), 'refs/heads/main'], { env: sshEnv });
  row('1 unchanged: pollpray run', p1, p1);
  row('1 unchanged: raw git ls-remote', raw1, p1);
  row('1 unchanged: raw git ls-remote + node -e 0', raw1 + nodeStart, p1);

  const push = () => sh(['bash', join(FIXTURES, 'push-change.sh'), '1']);
  const p1c = measure(pollpray(c1, ['run', '--no-splay']), {}, REPS, push);
  const rawChange = [
    'set -e',
    `cd ${rawClone}`,
    'sha=$(git ls-remote origin refs/heads/main | cut -f1)',
    'git fetch -q --no-tags origin +refs/heads/main:refs/remotes/origin/main',
    'git reset -q --hard "$sha"',
  ].join('\n');
  const raw1c = measure(['bash', '-c', rawChange], { env: sshEnv }, REPS, push);
  row('1 changed: pollpray run (ls-remote, fetch, reset)', p1c, p1c);
  row('1 changed: raw git ls-remote + fetch + reset --hard', raw1c, p1c);
  row('1 changed: raw git + node -e 0', raw1c + nodeStart, p1c);

  // --- cold start --------------------------------------------------------------------
  const version = measure(['node', BIN, '--version'], {}, 10);
  row('cold start: pollpray --version', version, version);
  row('cold start: node -e 0', nodeStart, version);

  // --- memory ------------------------------------------------------------------------
  const rss = [];
  for (const count of [20, 100, 200]) {
    const cfg = writeConfig(join(WORK, `m${count}.yaml`), count);
    seedState(count);
    sh(pollpray(cfg, ['run', '--no-splay'])); // warm: state files exist, all unchanged
    rss.push([count, peakRss(cfg)]);
  }

  const fmt = (ms) => `${ms.toFixed(0).padStart(7)} ms`;
  console.log(`\npollpray bench — median of ${REPS} runs (cold start: 10), sshd on 127.0.0.1:${PORT}, ${new Date().toISOString()}`);
  console.log(`machine: ${sh(['nproc']).stdout.trim()} cores, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
  for (const [label, ms, base] of rows) {
    const ratio = ms === base ? '' : `  ${(ms / base).toFixed(2)}x pollpray`;
    console.log(`${label.padEnd(56)}${fmt(ms)}${ratio}`);
  }
  console.log('');
  for (const [count, mb] of rss) console.log(`peak RSS, no-change run, ${String(count).padStart(3)} targets: ${mb.toFixed(1)} MB`);
  console.log('\ngoals:');
  console.log(`  20 unchanged ≥10x faster than classic:         ${(classic / p20).toFixed(1)}x ${classic / p20 >= 10 ? 'met' : 'MISSED'}`);
  console.log(`  20 unchanged no slower than raw muxed loop:    ${(p20 / rawMux).toFixed(2)}x ${p20 <= rawMux ? 'met' : 'MISSED'}`);
  console.log(`  1 unchanged within 1.3x of raw git + node:     ${(p1 / (raw1 + nodeStart)).toFixed(2)}x ${p1 <= 1.3 * (raw1 + nodeStart) ? 'met' : 'MISSED'}`);
  console.log(`  1 changed within 1.3x of raw git + node:       ${(p1c / (raw1c + nodeStart)).toFixed(2)}x ${p1c <= 1.3 * (raw1c + nodeStart) ? 'met' : 'MISSED'}`);
  console.log(`  cold start under 150 ms:                       ${version.toFixed(0)} ms ${version < 150 ? 'met' : 'MISSED'}`);
  const rss200 = rss.at(-1)[1];
  console.log(`  under 80 MB RSS at 200 targets:                ${rss200.toFixed(1)} MB ${rss200 < 80 ? 'met' : 'MISSED'}`);
} finally {
  if (sshdPid) {
    try {
      process.kill(sshdPid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  rmSync(join(ROOT, 'etc/sshd.pid'), { force: true });
}
