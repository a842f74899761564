#!/usr/bin/env node
// pollpray benchmark: ratios against baselines measured in the same run, on the loopback
// sshd fixture of ../shared/bench (20 bare repos, user gitsrv). Run as root:
//   npm run bench            (PORT, ROOT, REPS override the defaults below)
//   BENCH_ONLY=one,version   only some scenarios: many, one, changed, version, memory, slow, daemon
//   DAEMON_TICKS=1000        daemon cycles to watch (default 20; issue 17 asks for 1,000)
// Prints a table and the seven goals of issue 17, each as a ratio against a baseline of
// the same run; bench/README.md records what was measured on the reference machine.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO_ROOT = resolve(import.meta.dirname, '..');
const FIXTURES = resolve(REPO_ROOT, '../shared/bench');
const BIN = join(REPO_ROOT, 'bin/pollpray.js');
const PORT = process.env.PORT ?? '2322';
const ROOT = process.env.ROOT ?? `/tmp/pp-bench-${PORT}`;
const REPS = Number(process.env.REPS ?? 5);
const N = 20;
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : undefined;
const wanted = (name) => !ONLY || ONLY.has(name);
const DAEMON_TICKS = Number(process.env.DAEMON_TICKS ?? 20);
const PROXY_PORT = String(Number(PORT) + 1);
const SLOW = join(ROOT, 'slow'); // ROOT for classic-poller.sh through the delaying proxy
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

/**
 * Runs the commands in turn, rep after rep, and returns each one's median: on a shared
 * machine a burst of load then falls on pollpray and its baseline alike, not on one.
 */
function interleaved(list, reps = REPS) {
  const times = list.map(() => []);
  for (let i = 0; i < reps; i++) {
    list.forEach((c, k) => {
      c.before?.();
      times[k].push(timed(c.argv, c.opts ?? {}).ms);
    });
  }
  return times.map(median);
}

const sshEnv = { GIT_SSH_COMMAND: `ssh -F ${KEYS}/ssh_config`, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
const repo = (i) => `pp-origin:repos/app${i}.git`;

function writeConfig(file, count, extra = {}) {
  const name = extra.name ?? String(count);
  const keys = extra.keys ?? KEYS;
  const lines = [`state_dir: ${WORK}/state-${name}`, `log: { dir: ${WORK}/log, level: info }`, `concurrency: ${extra.concurrency ?? 4}`];
  if (extra.schedule) lines.push(`schedule: "${extra.schedule}"`);
  lines.push('targets:');
  for (let i = 1; i <= count; i++) {
    lines.push(
      `  t${i}:`,
      `    repo: ${repo(((i - 1) % N) + 1)}`,
      `    path: ${WORK}/www-${name}/t${i}`,
      `    ssh: { config: ${keys}/ssh_config, key: ${KEYS}/deploy, known_hosts: ${keys}/known_hosts }`,
    );
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Marks every target as deployed at the current head without cloning (state is what a no-change run reads). */
function seedState(name, count) {
  const heads = new Map();
  for (let i = 1; i <= N; i++) heads.set(i, sh(['git', 'ls-remote', repo(i), 'refs/heads/main'], { env: sshEnv }).stdout.split('\t')[0]);
  for (let i = 1; i <= count; i++) {
    const dir = join(WORK, `state-${name}`, 'targets', `t${i}`);
    mkdirSync(dir, { recursive: true });
    const sha = heads.get(((i - 1) % N) + 1);
    const now = new Date().toISOString();
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 1, target: `t${i}`, branch: 'main', deployedSha: sha, previousSha: null, remoteSha: sha, lastCheck: now, lastSuccess: now, lastResult: 'deployed', lastError: null, paused: false }));
  }
}

function pollpray(config, extraArgs = []) {
  return ['node', BIN, '--config', config, ...extraArgs];
}

/** How many processes pollpray itself started in one run (bench/spawn-probe.mjs). */
function spawnCount(config) {
  const file = join(WORK, 'spawned');
  rmSync(file, { force: true });
  sh(['node', '--import', join(REPO_ROOT, 'bench/spawn-probe.mjs'), BIN, '--config', config, 'run', '--no-splay'], { env: { POLLPRAY_BENCH_SPAWN_FILE: file } });
  return Number(readFileSync(file, 'utf8'));
}

/** bench/node-floor.mjs bundled as pollpray is (scripts/build.mjs): unbundled, execa alone loads ~3x slower. */
async function floorBundle() {
  const { build } = await import('esbuild');
  const outfile = join(WORK, 'node-floor.mjs');
  await build({
    entryPoints: [join(REPO_ROOT, 'bench/node-floor.mjs')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    banner: { js: "import { createRequire as __ppCreateRequire } from 'node:module'; const require = __ppCreateRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  return outfile;
}

/** Where one run's time went (bench/spawn-probe.mjs), the median of each figure over `reps` runs. */
function timelineOf(config, reps = REPS) {
  const file = join(WORK, 'timeline');
  const runs = [];
  for (let i = 0; i < reps; i++) {
    rmSync(file, { force: true });
    sh(['node', '--import', join(REPO_ROOT, 'bench/spawn-probe.mjs'), BIN, '--config', config, 'run', '--no-splay'], { env: { POLLPRAY_BENCH_TIMELINE_FILE: file } });
    runs.push(JSON.parse(readFileSync(file, 'utf8')));
  }
  const of = (key) => median(runs.map((r) => r[key] ?? NaN));
  return { master: of('master'), firstGit: of('firstGit'), lastGit: of('lastGit'), lastExit: of('lastExit'), exit: of('exit'), spawnMs: of('spawnMs'), spawns: of('spawns') };
}

function peakRss(config) {
  const file = join(WORK, 'rss');
  rmSync(file, { force: true });
  sh(['node', '--import', join(REPO_ROOT, 'bench/rss-probe.mjs'), BIN, '--config', config, 'run', '--no-splay'], { env: { POLLPRAY_BENCH_RSS_FILE: file } });
  return Number(readFileSync(file, 'utf8')) / 1024;
}

const rows = [];
const row = (label, ms, base) => rows.push([label, ms, base]);
const goals = [];
/** A goal: `value` against `limit` (`atMost`: value ≤ limit, else value ≥ limit). */
const goal = (label, value, limit, atMost, unit = 'x') => goals.push({ label, value, limit, atMost, unit });
const notes = [];
let sshdPid;
let proxy;

// The raw baselines, as a shell script would do the same network work.
const muxSsh = (keys) => `ssh -F ${keys}/ssh_config -o ControlMaster=auto -o ControlPath=${ROOT}/cm-%C -o ControlPersist=30s`;
/** Sequential ls-remote of the 20 repos, plain or over one multiplexed connection. */
const loop = (mux, keys = KEYS) =>
  [
    'set -e',
    mux ? `export GIT_SSH_COMMAND="${muxSsh(keys)}"` : `export GIT_SSH_COMMAND="ssh -F ${keys}/ssh_config"`,
    `for i in $(seq 1 ${N}); do git ls-remote pp-origin:repos/app$i.git refs/heads/main >/dev/null; done`,
    mux ? `ssh -F ${keys}/ssh_config -o ControlPath=${ROOT}/cm-%C -O exit pp-origin 2>/dev/null` : 'true',
  ].join('\n');
/** The first ls-remote opens the shared connection, the other 19 go 4 at a time over it. */
const parallelLoop = (keys = KEYS) =>
  [
    'set -e',
    `export GIT_SSH_COMMAND="${muxSsh(keys)}"`,
    'git ls-remote pp-origin:repos/app1.git refs/heads/main >/dev/null',
    `seq 2 ${N} | xargs -P 4 -I{} git ls-remote pp-origin:repos/app{}.git refs/heads/main >/dev/null`,
    `ssh -F ${keys}/ssh_config -o ControlPath=${ROOT}/cm-%C -O exit pp-origin 2>/dev/null`,
  ].join('\n');
/**
 * The loop above without git and sh: each query is the ssh mux client running
 * git-upload-pack, which sends the ref advertisement; what reading the advertisement
 * directly (one process per target instead of git + sh + ssh) would save at most.
 */
const directLoop = (keys = KEYS) =>
  [
    `ssh -F ${keys}/ssh_config -o ControlMaster=auto -o ControlPath=${ROOT}/cm-%C -o ControlPersist=30s pp-origin "git-upload-pack 'repos/app1.git'" </dev/null >/dev/null 2>&1 || true`,
    `seq 2 ${N} | xargs -P 4 -I{} ${muxSsh(keys)} pp-origin "git-upload-pack 'repos/app{}.git'" >/dev/null 2>&1 || true`,
    `ssh -F ${keys}/ssh_config -o ControlPath=${ROOT}/cm-%C -O exit pp-origin 2>/dev/null`,
  ].join('\n');
const gitEnv = { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

try {
  sh(['bash', join(FIXTURES, 'sshd-fixture.sh')], { env: { ROOT, PORT, N: String(N) } });
  sshdPid = Number(readFileSync(join(ROOT, 'etc/sshd.pid'), 'utf8'));
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  rmSync(join(ROOT, 'classic'), { recursive: true, force: true });
  const nodeStart = measure(['node', '-e', '0'], {}, 10);
  let rawPar;

  // --- 20 targets, nothing changed -------------------------------------------------
  if (wanted('many') || wanted('daemon')) {
    const c20 = writeConfig(join(WORK, 'c20.yaml'), 20);
    sh(pollpray(c20, ['run', '--no-splay'])); // first deploy: 20 clones (not timed)
    if (wanted('many')) {
      const c20x8 = writeConfig(join(WORK, 'c20x8.yaml'), 20, { concurrency: 8, name: '20x8' });
      sh(pollpray(c20x8, ['run', '--no-splay']));
      sh(['bash', join(FIXTURES, 'classic-poller.sh'), String(N)], { env: { ROOT } }); // its clones (not timed)
      const floor = await floorBundle();
      const [p20, par, direct, nodeFloor] = interleaved([
        { argv: pollpray(c20, ['run', '--no-splay']) },
        { argv: ['bash', '-c', parallelLoop()], opts: { env: gitEnv } },
        { argv: ['bash', '-c', directLoop()] },
        { argv: ['node', floor, join(KEYS, 'ssh_config'), ROOT, String(N), '4'] },
      ]);
      rawPar = par;
      const t = timelineOf(c20);
      const p20x8 = measure(pollpray(c20x8, ['run', '--no-splay']));
      const classic = measure(['bash', join(FIXTURES, 'classic-poller.sh'), String(N)], { env: { ROOT } });
      const rawSeq = measure(['bash', '-c', loop(false)], { env: gitEnv });
      const rawMux = measure(['bash', '-c', loop(true)], { env: gitEnv });
      row('20 unchanged: pollpray run (concurrency 4)', p20, p20);
      row('20 unchanged: pollpray run (concurrency 8)', p20x8, p20);
      row('20 unchanged: classic-poller.sh (fetch each)', classic, p20);
      row('20 unchanged: raw sequential git ls-remote', rawSeq, p20);
      row('20 unchanged: raw sequential multiplexed ls-remote', rawMux, p20);
      row('20 unchanged: raw 4-parallel multiplexed ls-remote', rawPar, p20);
      row('20 unchanged: raw 4-parallel ssh upload-pack, no git/sh', direct, p20);
      row('20 unchanged: Node + execa floor (bench/node-floor.mjs)', nodeFloor, p20);
      notes.push(`goal 2's floor for a Node program that spawns through execa: ${(nodeFloor / rawPar).toFixed(2)}x the raw 4-parallel loop; pollpray is ${(p20 / nodeFloor).toFixed(2)}x that floor`);
      const ms = (v) => `${v.toFixed(0)} ms`;
      notes.push(
        `20 unchanged, where the time goes (ms after pollpray started): ssh master started ${ms(t.master)}, first ls-remote ${ms(t.firstGit)}, ` +
          `last ${ms(t.lastGit)}, last child ended ${ms(t.lastExit)}, exit ${ms(t.exit)}; ${t.spawns} spawn() calls held the main thread ${ms(t.spawnMs)}`,
      );
      goal('2. 20 unchanged vs raw 4-parallel multiplexed loop', p20 / rawPar, 1.0, true);
      notes.push(`on bare loopback, classic poller / pollpray = ${(classic / p20).toFixed(1)}x (goal 3 is measured through the 40 ms proxy)`);
    }
  }

  // --- 1 target ----------------------------------------------------------------------
  if (wanted('one') || wanted('changed')) {
    const c1 = writeConfig(join(WORK, 'c1.yaml'), 1);
    sh(pollpray(c1, ['run', '--no-splay']));
    const rawClone = join(WORK, 'raw-clone');
    sh(['git', 'clone', '-q', repo(1), rawClone], { env: sshEnv });
    if (wanted('one')) {
      const [p1, raw1, node1] = interleaved([
        { argv: pollpray(c1, ['run', '--no-splay']) },
        { argv: ['git', 'ls-remote', repo(1), 'refs/heads/main'], opts: { env: sshEnv } },
        { argv: ['node', '-e', '0'] },
      ]);
      row('1 unchanged: pollpray run', p1, p1);
      row('1 unchanged: raw git ls-remote', raw1, p1);
      row('1 unchanged: raw git ls-remote + node -e 0', raw1 + node1, p1);
      goal('1. 1 unchanged vs raw ls-remote + node -e 0', p1 / (raw1 + node1), 1.3, true);
    }
    if (wanted('changed')) {
      const push = () => sh(['bash', join(FIXTURES, 'push-change.sh'), '1']);
      const rawChange = [
        'set -e',
        `cd ${rawClone}`,
        'sha=$(git ls-remote origin refs/heads/main | cut -f1)',
        'git fetch -q --no-tags origin +refs/heads/main:refs/remotes/origin/main',
        'git checkout -q -f -B main "$sha"',
      ].join('\n');
      const [p1c, raw1c, node1c] = interleaved([
        { argv: pollpray(c1, ['run', '--no-splay']), before: push },
        { argv: ['bash', '-c', rawChange], opts: { env: sshEnv }, before: push },
        { argv: ['node', '-e', '0'] },
      ]);
      push();
      const processes = spawnCount(c1);
      row('1 changed: pollpray run', p1c, p1c);
      row('1 changed: raw ls-remote + fetch + checkout -f -B', raw1c, p1c);
      row('1 changed: raw git + node -e 0', raw1c + node1c, p1c);
      goal('6. 1 changed vs raw git + node -e 0', p1c / (raw1c + node1c), 1.2, true);
      notes.push(`a changed deploy: pollpray started ${processes} processes itself (raw: 3 git commands)`);
    }
  }

  // --- cold start --------------------------------------------------------------------
  if (wanted('version')) {
    const [version, node0] = interleaved([{ argv: ['node', BIN, '--version'] }, { argv: ['node', '-e', '0'] }], 10);
    row('cold start: pollpray --version', version, version);
    row('cold start: node -e 0', node0, version);
    goal('4. --version vs node -e 0', version / node0, 1.1, true);
  }

  // --- memory ------------------------------------------------------------------------
  if (wanted('memory')) {
    const rss = [];
    for (const count of [20, 100, 200]) {
      const cfg = writeConfig(join(WORK, `m${count}.yaml`), count, { name: `m${count}` });
      seedState(`m${count}`, count);
      sh(pollpray(cfg, ['run', '--no-splay'])); // warm: state files exist, all unchanged
      rss.push([count, peakRss(cfg)]);
    }
    for (const [count, mb] of rss) notes.push(`peak RSS, no-change run, ${String(count).padStart(3)} targets: ${mb.toFixed(1)} MiB`);
    const perTarget = (rss[2][1] - rss[0][1]) / 180;
    const linear = Math.abs(rss[1][1] - (rss[0][1] + 80 * perTarget)) < 2;
    notes.push(`RSS per target ${perTarget.toFixed(3)} MiB, 100-target point ${linear ? 'on' : 'OFF'} the 20-200 line (±2 MiB)`);
    goal('5. peak RSS at 200 targets (MiB)', rss[2][1], 80, true, ' MiB');
  }

  // --- 40 ms round trip --------------------------------------------------------------
  if (wanted('slow')) {
    proxy = spawn('node', [join(REPO_ROOT, 'bench/latency-proxy.mjs')], { env: { ...process.env, LISTEN: PROXY_PORT, TARGET: PORT, DELAY_MS: '20' }, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      proxy.stdout.once('data', resolve);
      proxy.once('exit', (code) => reject(new Error(`latency proxy exited ${code}`)));
    });
    const slowKeys = join(SLOW, 'keys');
    mkdirSync(slowKeys, { recursive: true });
    writeFileSync(join(slowKeys, 'ssh_config'), readFileSync(join(KEYS, 'ssh_config'), 'utf8').replace(`Port ${PORT}`, `Port ${PROXY_PORT}`).replaceAll(`${KEYS}/known_hosts`, `${slowKeys}/known_hosts`));
    writeFileSync(join(slowKeys, 'known_hosts'), readFileSync(join(KEYS, 'known_hosts'), 'utf8').replace(`[127.0.0.1]:${PORT}`, `[127.0.0.1]:${PROXY_PORT}`));
    const cSlow = writeConfig(join(WORK, 'slow.yaml'), 20, { keys: slowKeys, name: 'slow' });
    sh(pollpray(cSlow, ['run', '--no-splay'])); // clones (not timed)
    sh(['bash', join(FIXTURES, 'classic-poller.sh'), String(N)], { env: { ROOT: SLOW } });
    const [pSlow, classicSlow, rawParSlow] = interleaved(
      [
        { argv: pollpray(cSlow, ['run', '--no-splay']) },
        { argv: ['bash', join(FIXTURES, 'classic-poller.sh'), String(N)], opts: { env: { ROOT: SLOW } } },
        { argv: ['bash', '-c', parallelLoop(slowKeys)], opts: { env: gitEnv } },
      ],
      Math.min(REPS, 3),
    );
    row('40 ms RTT, 20 unchanged: pollpray run', pSlow, pSlow);
    row('40 ms RTT, 20 unchanged: classic-poller.sh', classicSlow, pSlow);
    row('40 ms RTT, 20 unchanged: raw 4-parallel multiplexed', rawParSlow, pSlow);
    goal('3. 40 ms RTT: classic poller / pollpray', classicSlow / pSlow, 10, false);
  }

  // --- daemon ------------------------------------------------------------------------
  if (wanted('daemon')) {
    rawPar ??= measure(['bash', '-c', parallelLoop()], { env: gitEnv });
    const cd = writeConfig(join(WORK, 'daemon.yaml'), 20, { schedule: '*/2 * * * * *', name: '20' });
    const ticks = join(WORK, 'ticks');
    rmSync(ticks, { force: true });
    const d = spawn('node', ['--import', join(REPO_ROOT, 'bench/spawn-probe.mjs'), BIN, '--config', cd, 'daemon', '--grace', '5s'], {
      env: { ...process.env, POLLPRAY_BENCH_TICK_FILE: ticks },
      stdio: 'ignore',
    });
    const read = () => (existsSync(ticks) ? readFileSync(ticks, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(' ').map(Number)) : []);
    const deadline = Date.now() + DAEMON_TICKS * 4000 + 30_000;
    while (read().length < DAEMON_TICKS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    d.kill('SIGTERM');
    await new Promise((r) => d.once('exit', r));
    const all = read();
    const times = all.slice(1).map(([ms]) => ms); // the first tick also loads what the rest reuse
    const tick = median(times);
    row(`daemon: median of ${times.length} ticks, 20 unchanged`, tick, tick);
    row('daemon: raw 4-parallel multiplexed ls-remote', rawPar, tick);
    goal('7. daemon tick vs raw 4-parallel loop', tick / rawPar, 1.05, true);
    const tenth = Math.max(1, Math.floor(all.length / 10));
    const rss = (part) => median(part.map(([, mb]) => mb));
    const early = rss(all.slice(0, tenth));
    const second = rss(all.slice(tenth, 2 * tenth));
    const late = rss(all.slice(-tenth));
    notes.push(`daemon RSS after each of ${all.length} ticks: first tenth ${early.toFixed(1)} MiB, second tenth ${second.toFixed(1)} MiB, last tenth ${late.toFixed(1)} MiB`);
    // Flat: the first tenth is warm-up (young generation and compiled code growing to their
    // working size); from the second tenth on, RSS may not grow by more than 5 %.
    if (all.length >= 1000) goal('7b. daemon RSS, last tenth / second tenth of 1,000+ ticks', late / second, 1.05, true);
    else notes.push(`daemon memory goal not judged: ${all.length} ticks, DAEMON_TICKS=1000 for it`);
  }

  const fmt = (ms) => `${ms.toFixed(0).padStart(7)} ms`;
  console.log(`\npollpray bench — median of ${REPS} runs (cold start: 10), sshd on 127.0.0.1:${PORT}, ${new Date().toISOString()}`);
  console.log(`machine: ${sh(['nproc']).stdout.trim()} cores, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}, node -e 0: ${nodeStart.toFixed(0)} ms\n`);
  for (const [label, ms, base] of rows) {
    const ratio = ms === base ? '' : `  ${(ms / base).toFixed(2)}x pollpray`;
    console.log(`${label.padEnd(56)}${fmt(ms)}${ratio}`);
  }
  console.log('');
  for (const note of notes) console.log(note);
  console.log('\ngoals (issue 17):');
  for (const g of goals.sort((a, b) => a.label.localeCompare(b.label))) {
    const met = g.atMost ? g.value <= g.limit : g.value >= g.limit;
    const shown = g.unit === 'x' ? `${g.value.toFixed(2)}x` : `${g.value.toFixed(1)}${g.unit}`;
    console.log(`  ${g.label.padEnd(52)} ${shown.padStart(10)}  (${g.atMost ? '≤' : '≥'} ${g.limit}${g.unit === 'x' ? 'x' : g.unit}) ${met ? 'met' : 'MISSED'}`);
  }
} finally {
  proxy?.kill('SIGTERM');
  if (sshdPid) {
    try {
      process.kill(sshdPid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  rmSync(join(ROOT, 'etc/sshd.pid'), { force: true });
}
