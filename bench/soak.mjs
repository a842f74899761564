#!/usr/bin/env node
// pollpray soak: many cycles on a few local targets while a driver pushes good commits,
// force-pushes, pushes commits whose deploy script or health check fails, and kill -9s
// runs. After every cycle it checks the invariants of the "Failure modes" promise and
// prints a summary table at the end. Bounded by count and time; not part of npm test.
//   npm run soak        (SOAK_CYCLES=500, SOAK_MINUTES=9, SOAK_SEED, SOAK_PREWARM=0: see bench/README.md)
//
// Every process costs ~10 ms on a small VM, so the driver spawns as few as it can: a
// commit is written straight into the origin by one `git fast-import` (what a push
// leaves on the remote: the objects and the moved branch), a force-push is one
// `update-ref`, and the pushes of one cycle run side by side. Each cycle's run is a
// fresh `pollpray run`, started (Node and its modules loaded) while the previous cycle
// still runs and held at bench/soak-gate.mjs until its turn; SOAK_PREWARM=0 starts it
// cold instead.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../bin/pollpray.js');
const CYCLES = Number(process.env.SOAK_CYCLES ?? 500);
const started = Date.now();
const DEADLINE = started + Number(process.env.SOAK_MINUTES ?? 9) * 60_000;
const PREWARM = process.env.SOAK_PREWARM !== '0';
let seed = Number(process.env.SOAK_SEED ?? Date.now() % 100000);
const SEED = seed;
// Small deterministic PRNG (mulberry32): a failing soak can be replayed with its seed
// (the pushes and kills are; how far a killed run got depends on timing).
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
// The driver's own git: no auto gc or maintenance after each commit (two more processes each).
const gitEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GIT_'))),
  HOME,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_COUNT: '2',
  GIT_CONFIG_KEY_0: 'gc.auto',
  GIT_CONFIG_VALUE_0: '0',
  GIT_CONFIG_KEY_1: 'maintenance.auto',
  GIT_CONFIG_VALUE_1: 'false',
};

function git(args, input) {
  return new Promise((resolveGit, reject) => {
    const child = spawn('git', args, { cwd: ROOT, env: gitEnv, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolveGit(stdout.trim()) : reject(new Error(`git ${args.join(' ')}: ${stderr}`))));
    // A git that fails before reading its input closes the pipe: its exit code tells why.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}

function script(path, body, shell = '/bin/bash') {
  writeFileSync(path, `#!${shell}\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

// The deploy script: checks nobody else deploys this target now, leaves a background
// child behind (a subshell that waits 60 s and must not outlive the run), takes a while
// when the driver means to kill it (SLOW holds how long), fails on `fail`. Only
// shell builtins and that one fork, no exec: every process counts. Waiting is a `read`
// with a timeout on a FIFO nobody writes to.
const OVERLAPS = join(ROOT, 'overlaps.log');
const SLOW = join(ROOT, 'slow');
const NEVER = join(ROOT, 'never.fifo');
if (spawnSync('mkfifo', ['-m', '600', NEVER]).status !== 0) throw new Error(`mkfifo ${NEVER} failed`);
const deploy = script(
  join(ROOT, 'deploy.sh'),
  [
    'marker="$POLLPRAY_REPO_DIR.deploying"',
    'other=',
    '[ -f "$marker" ] && read -r other < "$marker"',
    // Another deploy script that still runs (a zombie already ended, only not yet reaped).
    'name= state=',
    '[ -n "$other" ] && read -r _ name state _ 2>/dev/null < "/proc/$other/stat"',
    `if [ "$name" = "(deploy.sh)" ] && [ "$state" != Z ]; then echo "$POLLPRAY_TARGET $$ $other" >> "${OVERLAPS}"; fi`,
    'echo $$ > "$marker"',
    `(read -rt 60 _ <> "${NEVER}") &`,
    `[ -f "${SLOW}" ] && read -r pause < "${SLOW}" && read -rt "$pause" _ <> "${NEVER}"`,
    ': > "$marker"',
    '[ -f fail ] && { echo "build failed" >&2; exit 3; }',
    'true',
  ].join('\n'),
);
const health = script(join(ROOT, 'health.sh'), '[ ! -f unhealthy ]', '/bin/sh');

const KINDS = ['good', 'fail', 'unhealthy', 'force'];
const TARGETS = ['rel-a', 'rel-b', 'inplace'].map((name) => ({
  name,
  bare: join(ROOT, name, 'origin.git'),
  path: join(ROOT, 'www', name),
  strategy: name === 'inplace' ? 'in-place' : 'releases',
  good: new Set(),
  tip: undefined,
  n: 0,
  historyLines: 0,
  pushed: Object.fromEntries(KINDS.map((k) => [k, 0])),
  kills: 0,
  violations: 0,
}));
await Promise.all(TARGETS.map((t) => git(['init', '-q', '--bare', '-b', 'main', t.bare])));

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

/**
 * A new commit on main of the origin, child of the branch's head; `kind` decides what it
 * ships (n.txt always, a `fail` or `unhealthy` marker for the scripts).
 */
async function push(t, kind) {
  t.n++;
  const files = { 'n.txt': `${t.n}\n` };
  if (kind === 'fail') files.fail = '';
  if (kind === 'unhealthy') files.unhealthy = '';
  const data = (text) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  const stream = [
    'commit refs/heads/main\nmark :1\n',
    `committer Soak <soak@pollpray.invalid> ${Math.floor(Date.now() / 1000)} +0000\n`,
    data(`${kind} ${t.n}`),
    t.tip ? `from ${t.tip}\n` : '',
    'deleteall\n',
    ...Object.entries(files).map(([path, content]) => `M 100644 inline ${path}\n${data(content)}`),
    '\nget-mark :1\n',
  ].join('');
  const sha = await git([`--git-dir=${t.bare}`, 'fast-import', '--quiet', '--force'], stream);
  t.tip = sha;
  if (kind === 'good') t.good.add(sha);
}

/** Rewrites the branch to an older good commit, as `git push --force` of it would. */
async function forcePushOlder(t, pick) {
  const good = [...t.good];
  if (good.length < 2) return push(t, 'good');
  const sha = good[Math.floor(pick * (good.length - 1))];
  await git([`--git-dir=${t.bare}`, 'update-ref', 'refs/heads/main', sha]);
  t.tip = sha;
}

/** The commit a target serves now: `current`'s release record, or the in-place checkout's HEAD. */
function live(t) {
  if (t.strategy === 'releases') {
    if (!existsSync(join(t.path, 'current'))) return undefined;
    const release = readlinkSync(join(t.path, 'current')).replace(/^releases\//, '');
    return readFileSync(join(t.path, '.pollpray', 'releases', `${release}.json`), 'utf8').match(/[0-9a-f]{40}/)?.[0] ?? release.slice(-12);
  }
  const gitDir = join(t.path, '.git');
  if (!existsSync(gitDir)) return undefined;
  // HEAD read from the files `git rev-parse HEAD` reads: a symbolic ref, loose or packed.
  const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
  const ref = head.match(/^ref: (\S+)$/)?.[1];
  if (!ref) return head;
  if (existsSync(join(gitDir, ref))) return readFileSync(join(gitDir, ref), 'utf8').trim();
  const packed = existsSync(join(gitDir, 'packed-refs')) ? readFileSync(join(gitDir, 'packed-refs'), 'utf8') : '';
  return packed.split('\n').find((l) => l.endsWith(` ${ref}`))?.slice(0, 40) ?? `unborn ${ref}`;
}

/** Processes whose command line names the soak dir (zombies have an empty one). */
function leftoverProcesses() {
  return readdirSync('/proc').filter((pid) => {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(ROOT);
    } catch {
      return false;
    }
  });
}

function describeProcess(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid, pgid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return `${pid} (${state}, parent ${ppid}, group ${pgid}): ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`;
  } catch {
    return `${pid} (gone)`;
  }
}

/** A `pollpray run` process; prewarmed ones wait at the gate until `start()`. */
function startRun(prewarm) {
  const argv = [...(prewarm ? ['--import', GATE] : []), BIN, 'run', '--no-splay'];
  const child = spawn('node', argv, { cwd: ROOT, env: { ...gitEnv, POLLPRAY_CONFIG: config }, stdio: [prewarm ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  // A prewarmed run that died before its turn: its exit shows up as the run's result.
  child.stdin?.on('error', () => undefined);
  const closed = new Promise((resolveClose) => child.on('close', (code, signal) => resolveClose({ code, signal })));
  return { child, start: () => prewarm && child.stdin.end('go\n'), result: async () => ({ ...(await closed), stderr }) };
}

const GATE = resolve(import.meta.dirname, 'soak-gate.mjs');
let nextRun = PREWARM ? startRun(true) : undefined;

/** What each target's deploy script wrote into its marker: the pid of one that runs now, or ''. */
function scriptMarks() {
  return TARGETS.map((t) => {
    try {
      return readFileSync(`${t.path}.deploying`, 'utf8').trim();
    } catch {
      return '';
    }
  });
}

/**
 * One cycle's run: let it go, prewarm the next one meanwhile. `kill`: undefined, or
 * `{ afterMs }` (SIGKILL that long after the start), or `{ inScriptMs }` (that long after
 * the first deploy script of this run has started).
 */
async function runOnce(kill) {
  const current = nextRun ?? startRun(false);
  const t0 = Date.now();
  const marksBefore = scriptMarks();
  current.start();
  nextRun = PREWARM ? startRun(true) : undefined;
  const killNow = () => current.child.kill('SIGKILL');
  let timer;
  if (kill?.afterMs !== undefined) timer = setTimeout(killNow, kill.afterMs);
  if (kill?.inScriptMs !== undefined) {
    timer = setInterval(() => {
      if (!scriptMarks().some((mark, i) => mark && mark !== marksBefore[i])) return;
      clearInterval(timer);
      timer = setTimeout(killNow, kill.inScriptMs);
    }, 10);
  }
  const result = await current.result();
  clearInterval(timer);
  clearTimeout(timer);
  return { ...result, ms: Date.now() - t0 };
}

const counts = { cycles: 0, 'runs killed -9': 0, 'exit 0': 0, 'exit 1': 0, 'other exits': 0 };
const violations = [];
const violate = (cycle, t, what) => {
  violations.push(`cycle ${cycle}: ${what}`);
  if (t) t.violations++;
  console.error(`VIOLATION cycle ${cycle}: ${what}`);
};
// The promise is to keep serving the last good commit; before a first good deploy there
// is none (a first commit that fails stays on disk, logged, as nothing older exists).
// So every target first deploys a good commit, unfaulted, and the faults start after.
await Promise.all(TARGETS.map((t) => push(t, 'good')));
console.log(`soak: ${CYCLES} cycles (at most ${process.env.SOAK_MINUTES ?? 9} min) on ${TARGETS.map((t) => t.name).join(', ')} in ${ROOT}, seed ${SEED}`);
const warmUp = await runOnce(undefined);
const notLive = TARGETS.filter((t) => live(t) !== t.tip).map((t) => t.name);
if (warmUp.code !== 0 || notLive.length) {
  console.error(`soak: the first deploy failed (exit ${warmUp.code}${notLive.length ? `, not live: ${notLive.join(', ')}` : ''}): ${warmUp.stderr.trim()}`);
  console.error(`kept ${ROOT} for inspection`);
  process.exit(1);
}
for (const t of TARGETS) t.historyLines = historyOf(t).length;
const runTimes = [];
let overlapBytes = 0;

for (let cycle = 1; cycle <= CYCLES && Date.now() < DEADLINE; cycle++) {
  counts.cycles++;
  // The random draws happen in a fixed order, then the pushes of the cycle run side by side.
  const pushes = [];
  for (const t of TARGETS) {
    const r = random();
    const kind = r < 0.45 ? 'good' : r < 0.55 ? 'fail' : r < 0.65 ? 'unhealthy' : r < 0.75 ? 'force' : undefined;
    if (!kind) continue;
    t.pushed[kind]++;
    pushes.push(kind === 'force' ? forcePushOlder(t, random()) : push(t, kind));
  }
  await Promise.all(pushes);
  // Half the kills land anywhere in a run (ls-remote, fetch, script, switch, state
  // write); the other half inside a deploy script that would take 3-5 s, so its orphan
  // is still running when the next run gets to the target: that run must end it before
  // it deploys, or the overlap check and the leftover check see it.
  const typical = runTimes.length >= 5 ? [...runTimes].sort((a, b) => a - b)[Math.floor(runTimes.length / 2)] : 800;
  let kill;
  if (random() < 0.15) {
    if (random() < 0.5) kill = { afterMs: Math.floor(random() * typical) };
    else {
      writeFileSync(SLOW, `${3 + Math.floor(random() * 21) / 10}\n`);
      kill = { inScriptMs: Math.floor(random() * 200) };
    }
  }
  const pending = TARGETS.filter((t) => deployedOf(t) !== t.tip);
  const result = await runOnce(kill);
  rmSync(SLOW, { force: true });
  const killed = result.signal === 'SIGKILL';
  if (killed) {
    counts['runs killed -9']++;
    for (const t of pending) t.kills++;
  } else {
    runTimes.push(result.ms);
    if (result.code === 0) counts['exit 0']++;
    else if (result.code === 1) counts['exit 1']++;
    else {
      counts['other exits']++;
      violate(cycle, undefined, `run exited ${result.code}: ${result.stderr.trim()}`);
    }
  }

  for (const t of TARGETS) {
    let state;
    try {
      state = readStateOf(t);
    } catch (err) {
      violate(cycle, t, `${t.name}: state.json does not parse: ${err.message}`);
    }
    const history = historyOf(t);
    let entries = [];
    try {
      entries = history.map((l) => JSON.parse(l));
    } catch (err) {
      violate(cycle, t, `${t.name}: history.jsonl has a line that does not parse: ${err.message}`);
    }
    const added = entries.slice(t.historyLines);
    t.historyLines = history.length;
    if (killed) continue; // a killed run may leave in-place code mid-deploy; the next cycle must repair it
    const onDisk = live(t);
    if (onDisk !== undefined && !t.good.has(onDisk)) violate(cycle, t, `${t.name}: live commit ${onDisk.slice(0, 12)} was never a good (pushed, healthy) commit`);
    const deployedLines = added.filter((h) => h.result === 'deployed').length;
    if (deployedLines !== (state?.lastResult === 'deployed' ? 1 : 0)) violate(cycle, t, `${t.name}: ${deployedLines} 'deployed' history lines for lastResult ${state?.lastResult}`);
  }
  // Checked every cycle, so a violation names the cycle it happened in.
  const overlapSize = existsSync(OVERLAPS) ? statSync(OVERLAPS).size : 0;
  if (overlapSize > overlapBytes) {
    for (const line of readFileSync(OVERLAPS, 'utf8').slice(overlapBytes).trim().split('\n')) {
      violate(cycle, TARGETS.find((t) => line.startsWith(`${t.name} `)), `two deploys of one target at once: ${line}`);
    }
    overlapBytes = overlapSize;
  }
  if (!killed) {
    const left = leftoverProcesses();
    if (left.length) violate(cycle, undefined, `processes outlived the run: ${left.map(describeProcess).join('; ')}`);
  }
  if (cycle % 25 === 0) console.log(`soak: ${cycle} cycles, ${violations.length} violations, ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

function readStateOf(t) {
  const file = join(ROOT, 'state', 'targets', t.name, 'state.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
}

/** The deployed commit state records, or undefined (also when state does not parse: the check after the run reports that). */
function deployedOf(t) {
  try {
    return readStateOf(t)?.deployedSha;
  } catch {
    return undefined;
  }
}

function historyOf(t) {
  const file = join(ROOT, 'state', 'targets', t.name, 'history.jsonl');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

for (const pid of leftoverProcesses()) {
  try {
    process.kill(Number(pid), 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}
nextRun?.child.kill('SIGKILL');
const wallMs = Date.now() - started;
// A soak the time bound cut short did not show what it set out to: it fails too.
const incomplete = counts.cycles < CYCLES;

const table = (header, rows) => {
  const widths = header.map((h, i) => Math.max(String(h).length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
};
const perTarget = TARGETS.map((t) => {
  const entries = historyOf(t).map((l) => JSON.parse(l));
  return [
    t.name,
    counts.cycles,
    t.pushed.good,
    t.pushed.fail,
    t.pushed.unhealthy,
    t.pushed.force,
    entries.filter((h) => h.result === 'deployed').length,
    entries.filter((h) => h.result === 'failed').length,
    entries.filter((h) => h.result === 'failed' && h.rolledBack).length,
    t.kills,
    t.violations,
  ];
});
const sum = (i) => perTarget.reduce((n, r) => n + r[i], 0);
const sorted = [...runTimes].sort((a, b) => a - b);
console.log('');
table(
  ['target', 'cycles', 'good', 'failing', 'unhealthy', 'force', 'deploys', 'failures', 'rollbacks', 'kills', 'violations'],
  [...perTarget, ['all', counts.cycles, ...[2, 3, 4, 5, 6, 7, 8].map(sum), counts['runs killed -9'], violations.length]],
);
console.log(
  [
    '',
    `pushed commits: good, failing (script exits 3), unhealthy (health check fails); force: force-pushes to an older good commit`,
    `kills: runs killed -9 while the target had a commit to deploy (${counts['runs killed -9']} runs killed in all)`,
    `runs: ${counts['exit 0']} exit 0, ${counts['exit 1']} exit 1, ${counts['other exits']} other; run time median ${sorted[Math.floor(sorted.length / 2)] ?? 0} ms, max ${sorted.at(-1) ?? 0} ms (unkilled runs)`,
    `wall time ${(wallMs / 1000).toFixed(1)} s (${(wallMs / Math.max(1, counts.cycles)).toFixed(0)} ms per cycle), seed ${SEED}`,
  ].join('\n'),
);
if (incomplete) console.log(`INCOMPLETE: stopped by the time bound (SOAK_MINUTES) after ${counts.cycles} of ${CYCLES} cycles`);
if (violations.length === 0) {
  rmSync(ROOT, { recursive: true, force: true });
  console.log(`invariants held after every one of ${counts.cycles} cycles`);
} else {
  console.log(`\n${violations.length} invariant violation${violations.length === 1 ? '' : 's'}:`);
  for (const v of violations.slice(0, 20)) console.log(`  ${v}`);
  if (violations.length > 20) console.log(`  ... and ${violations.length - 20} more`);
  console.log(`kept ${ROOT} for inspection`);
}
process.exit(violations.length === 0 && !incomplete ? 0 : 1);
