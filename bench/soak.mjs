#!/usr/bin/env node
// pollpray soak: many cycles on a few local targets while a driver pushes good commits,
// force-pushes, pushes commits whose deploy script or health check fails, and kill -9s
// runs. After every cycle it checks the invariants of the "Failure modes" promise and
// prints a summary table at the end. Bounded by count and time; not part of npm test.
//   npm run soak                  (SOAK_CYCLES=500, SOAK_MINUTES=9, SOAK_SEED override)
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../bin/pollpray.js');
const CYCLES = Number(process.env.SOAK_CYCLES ?? 500);
const DEADLINE = Date.now() + Number(process.env.SOAK_MINUTES ?? 9) * 60_000;
let seed = Number(process.env.SOAK_SEED ?? Date.now() % 100000);
const SEED = seed;
// Small deterministic PRNG (mulberry32): a failing soak can be replayed with its seed.
function random() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const ROOT = mkdtempSync(join(tmpdir(), 'pollpray-soak-'));
const HOME = join(ROOT, 'home');
mkdirSync(HOME);
const gitEnv = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GIT_'))), HOME, GIT_CONFIG_NOSYSTEM: '1' };

function git(args, cwd) {
  const r = spawnSync('git', args, { cwd, env: gitEnv, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

function script(path, body) {
  writeFileSync(path, `#!/bin/bash\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

// The deploy script: checks nobody else deploys this target now, leaves a background
// child behind (which must not outlive the run), sometimes takes a while, fails on `fail`.
const deploy = script(
  join(ROOT, 'deploy.sh'),
  [
    'marker="$POLLPRAY_REPO_DIR.deploying"',
    'if ! mkdir "$marker" 2>/dev/null; then',
    '  other=$(cat "$marker/pid" 2>/dev/null)',
    `  if [ -n "$other" ] && kill -0 "$other" 2>/dev/null; then echo "$POLLPRAY_TARGET $$ $other" >> "${ROOT}/overlaps.log"; fi`,
    'fi',
    'echo $$ > "$marker/pid"',
    `(exec -a "soak-child ${ROOT}" sleep 60) &`,
    '[ -f slow ] && sleep 0.$((RANDOM % 5))',
    'rm -rf "$marker"',
    '[ -f fail ] && { echo "build failed" >&2; exit 3; }',
    'true',
  ].join('\n'),
);
const health = script(join(ROOT, 'health.sh'), '[ ! -f unhealthy ]');

const TARGETS = ['rel-a', 'rel-b', 'inplace'].map((name) => {
  const dir = join(ROOT, name);
  const bare = join(dir, 'origin.git');
  const work = join(dir, 'work');
  mkdirSync(dir);
  git(['init', '-q', '--bare', '-b', 'main', bare], dir);
  git(['init', '-q', '-b', 'main', work], dir);
  for (const [k, v] of [['user.name', 'Soak'], ['user.email', 'soak@pollpray.invalid'], ['commit.gpgsign', 'false']]) git(['config', k, v], work);
  git(['remote', 'add', 'origin', bare], work);
  return { name, bare, work, path: join(ROOT, 'www', name), good: new Set(), strategy: name === 'inplace' ? 'in-place' : 'releases', n: 0, historyLines: 0 };
});

const config = join(ROOT, 'pollpray.yaml');
writeFileSync(
  config,
  [
    `state_dir: ${join(ROOT, 'state')}`,
    `log: { dir: ${join(ROOT, 'log')}, level: info }`,
    'targets:',
    ...TARGETS.flatMap((t) => [
      `  ${t.name}:`,
      `    repo: file://${t.bare}`,
      `    path: ${t.path}`,
      `    strategy: ${t.strategy}`,
      `    deploy: ${deploy}`,
      '    deploy_timeout: 10s',
      '    git_timeout: 10s',
      ...(t.strategy === 'releases' ? ['    min_free_space: 1MB', '    keep_releases: 3'] : []),
      `    health: { command: [${health}], timeout: 2s, retries: 0 }`,
    ]),
  ].join('\n') + '\n',
  { mode: 0o640 },
);

/** Commits on main in the work clone and pushes; `kind` decides what the commit ships. */
function push(t, kind) {
  t.n++;
  for (const f of ['fail', 'unhealthy', 'slow']) rmSync(join(t.work, f), { force: true });
  writeFileSync(join(t.work, 'n.txt'), `${t.n}\n`);
  if (kind === 'fail') writeFileSync(join(t.work, 'fail'), '');
  if (kind === 'unhealthy') writeFileSync(join(t.work, 'unhealthy'), '');
  if (random() < 0.3) writeFileSync(join(t.work, 'slow'), '');
  git(['add', '--all'], t.work);
  git(['commit', '-q', '-m', `${kind} ${t.n}`], t.work);
  git(['push', '-q', '--force', 'origin', 'HEAD:refs/heads/main'], t.work);
  const sha = git(['rev-parse', 'HEAD'], t.work);
  if (kind === 'good') t.good.add(sha);
  return sha;
}

function forcePushOlder(t) {
  const good = [...t.good];
  if (good.length < 2) return push(t, 'good');
  const sha = good[Math.floor(random() * (good.length - 1))];
  git(['reset', '-q', '--hard', sha], t.work);
  git(['push', '-q', '--force', 'origin', 'HEAD:refs/heads/main'], t.work);
  return sha;
}

function live(t) {
  if (t.strategy === 'releases') {
    if (!existsSync(join(t.path, 'current'))) return undefined;
    const release = readlinkSync(join(t.path, 'current')).replace(/^releases\//, '');
    return readFileSync(join(t.path, 'releases', release, '.pollpray-release'), 'utf8').match(/[0-9a-f]{40}/)?.[0] ?? release.slice(-12);
  }
  return existsSync(join(t.path, '.git')) ? git(['rev-parse', 'HEAD'], t.path) : undefined;
}

function leftoverProcesses() {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(ROOT);
      } catch {
        return false;
      }
    });
}

function runOnce(killAfterMs) {
  return new Promise((resolveRun) => {
    const started = Date.now();
    const child = spawn('node', [BIN, 'run', '--no-splay'], { cwd: ROOT, env: { ...gitEnv, POLLPRAY_CONFIG: config }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stderr, ms: Date.now() - started });
    });
  });
}

const counts = { cycles: 0, pushes: 0, 'failing-script commits': 0, 'unhealthy commits': 0, 'force pushes': 0, 'runs killed -9': 0, 'exit 0': 0, 'exit 1': 0, 'other exits': 0 };
const violations = [];
const violate = (cycle, what) => {
  violations.push(`cycle ${cycle}: ${what}`);
  console.error(`VIOLATION cycle ${cycle}: ${what}`);
};
for (const t of TARGETS) push(t, 'good');
const runTimes = [];

for (let cycle = 1; cycle <= CYCLES && Date.now() < DEADLINE; cycle++) {
  counts.cycles++;
  for (const t of TARGETS) {
    const r = random();
    if (r < 0.45) (push(t, 'good'), counts.pushes++);
    else if (r < 0.55) (push(t, 'fail'), counts['failing-script commits']++);
    else if (r < 0.65) (push(t, 'unhealthy'), counts['unhealthy commits']++);
    else if (r < 0.75) (forcePushOlder(t), counts['force pushes']++);
  }
  const kill = random() < 0.15 ? Math.floor(100 + random() * 900) : undefined;
  const result = await runOnce(kill);
  runTimes.push(result.ms);
  if (result.signal === 'SIGKILL') counts['runs killed -9']++;
  else if (result.code === 0) counts['exit 0']++;
  else if (result.code === 1) counts['exit 1']++;
  else {
    counts['other exits']++;
    violate(cycle, `run exited ${result.code}: ${result.stderr.trim()}`);
  }
  const killed = result.signal === 'SIGKILL';

  for (const t of TARGETS) {
    const stateFile = join(ROOT, 'state', 'targets', t.name, 'state.json');
    let state;
    try {
      state = existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : undefined;
    } catch (err) {
      violate(cycle, `${t.name}: state.json does not parse: ${err.message}`);
    }
    const historyFile = join(ROOT, 'state', 'targets', t.name, 'history.jsonl');
    const history = existsSync(historyFile) ? readFileSync(historyFile, 'utf8').trim().split('\n').filter(Boolean) : [];
    try {
      history.forEach((l) => JSON.parse(l));
    } catch (err) {
      violate(cycle, `${t.name}: history.jsonl has a line that does not parse: ${err.message}`);
    }
    if (killed) {
      t.historyLines = history.length;
      continue; // a killed run may leave in-place code mid-deploy; the next cycle must repair it
    }
    const onDisk = live(t);
    if (onDisk !== undefined && !t.good.has(onDisk)) violate(cycle, `${t.name}: live commit ${onDisk.slice(0, 12)} was never a good (pushed, healthy) commit`);
    const added = history.slice(t.historyLines).map((l) => JSON.parse(l));
    t.historyLines = history.length;
    const deployedLines = added.filter((h) => h.result === 'deployed').length;
    if (deployedLines !== (state?.lastResult === 'deployed' ? 1 : 0)) violate(cycle, `${t.name}: ${deployedLines} 'deployed' history lines for lastResult ${state?.lastResult}`);
  }
  if (!killed) {
    const left = leftoverProcesses();
    if (left.length) violate(cycle, `processes outlived the run: ${left.join(', ')}`);
  }
  if (cycle % 25 === 0) console.log(`soak: ${cycle} cycles, ${violations.length} violations`);
}

const overlaps = existsSync(join(ROOT, 'overlaps.log')) ? readFileSync(join(ROOT, 'overlaps.log'), 'utf8').trim().split('\n').filter(Boolean) : [];
for (const o of overlaps) violate('-', `two deploys of one target at once: ${o}`);
for (const pid of leftoverProcesses()) {
  try {
    process.kill(Number(pid), 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}
const sorted = [...runTimes].sort((a, b) => a - b);
const rows = [
  ...Object.entries(counts),
  ['deploys recorded', TARGETS.reduce((n, t) => n + (existsSync(join(ROOT, 'state', 'targets', t.name, 'history.jsonl')) ? readFileSync(join(ROOT, 'state', 'targets', t.name, 'history.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"deployed"')).length : 0), 0)],
  ['run time median (ms)', sorted[Math.floor(sorted.length / 2)] ?? 0],
  ['run time max (ms)', sorted.at(-1) ?? 0],
  ['overlapping deploys', overlaps.length],
  ['invariant violations', violations.length],
  ['seed', SEED],
];
const width = Math.max(...rows.map(([k]) => k.length));
console.log(`\n${'what'.padEnd(width)}  count`);
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
if (violations.length === 0) rmSync(ROOT, { recursive: true, force: true });
else console.log(`\nkept ${ROOT} for inspection`);
process.exit(violations.length === 0 ? 0 : 1);
