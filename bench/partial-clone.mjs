#!/usr/bin/env node
// First deploy of a large repository: partial clone (clone.filter: blob:none) against a
// plain clone, both through `pollpray run`, measured in the same run. The repository is
// generated locally with `git fast-import`: FILES files of BLOB_KB KiB of random bytes
// (incompressible) at the head, and COMMITS commits before it, each rewriting CHURN of
// them, so the history holds far more than the head. Served over file:// with
// uploadpack.allowFilter (what GitHub, GitLab and Gitea offer).
//   npm run bench:clone          (FILES, BLOB_KB, COMMITS, CHURN, REPS, STRATEGY override)
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const REPO_ROOT = resolve(import.meta.dirname, '..');
const BIN = join(REPO_ROOT, 'bin/pollpray.js');
const FILES = Number(process.env.FILES ?? 200);
const BLOB_KB = Number(process.env.BLOB_KB ?? 32);
const COMMITS = Number(process.env.COMMITS ?? 80);
const CHURN = Number(process.env.CHURN ?? 20);
const REPS = Number(process.env.REPS ?? 2);
const STRATEGY = process.env.STRATEGY ?? 'releases';

const dir = mkdtempSync(join(tmpdir(), 'pp-bench-clone-'));
const env = { ...process.env, HOME: join(dir, 'home'), GIT_CONFIG_NOSYSTEM: '1' };
mkdirSync(env.HOME);

function sh(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env, maxBuffer: 1 << 26, ...opts });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

function duBytes(path) {
  return Number(sh(['du', '-sb', path]).stdout.split('\t')[0]);
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

/** A fast-import stream: COMMITS commits, the first writing all FILES, each later one CHURN of them. */
function generate(bare) {
  sh(['git', 'init', '-q', '--bare', '-b', 'main', bare]);
  sh(['git', 'config', 'uploadpack.allowFilter', 'true'], { cwd: bare });
  const streamFile = join(dir, 'stream');
  const fd = openSync(streamFile, 'w');
  let mark = 0;
  const blob = () => {
    const data = randomBytes(BLOB_KB * 1024);
    mark += 1;
    writeSync(fd, `blob\nmark :${mark}\ndata ${data.length}\n`);
    writeSync(fd, data);
    writeSync(fd, '\n');
    return mark;
  };
  for (let c = 0; c <= COMMITS; c++) {
    const files = c === 0 ? Array.from({ length: FILES }, (_, i) => i) : Array.from({ length: CHURN }, () => Math.floor(Math.random() * FILES));
    const marks = files.map((i) => [i, blob()]);
    const msg = `commit ${c}`;
    writeSync(fd, `commit refs/heads/main\ncommitter Bench <bench@pollpray.invalid> ${1_700_000_000 + c} +0000\ndata ${msg.length}\n${msg}\n`);
    for (const [i, m] of marks) writeSync(fd, `M 100644 :${m} dir${i % 10}/file${i}.bin\n`);
    writeSync(fd, '\n');
  }
  closeSync(fd);
  sh(['sh', '-c', `git fast-import --quiet < "${streamFile}"`], { cwd: bare });
  rmSync(streamFile);
  sh(['git', 'repack', '-a', '-d', '-q'], { cwd: bare });
}

function firstDeploy(url, name, clone) {
  const world = join(dir, `${name}`);
  rmSync(world, { recursive: true, force: true });
  mkdirSync(world);
  const config = join(world, 'pollpray.yaml');
  const target = { repo: url, path: join(world, 'app'), strategy: STRATEGY, git_timeout: '10m', ...(clone ? { clone } : {}) };
  writeFileSync(config, JSON.stringify({ state_dir: join(world, 'state'), log: { dir: join(world, 'log') }, targets: { app: target } }));
  const t0 = process.hrtime.bigint();
  sh(['node', BIN, 'run', '--no-splay'], { cwd: world, env: { ...env, POLLPRAY_CONFIG: config } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const repo = STRATEGY === 'releases' ? join(world, 'state', 'targets', 'app', 'mirror.git') : join(world, 'app', '.git');
  return { ms, bytes: duBytes(repo) };
}

try {
  const bare = join(dir, 'origin.git');
  const t0 = Date.now();
  generate(bare);
  const url = pathToFileURL(bare).href;
  console.log(`repository: ${FILES} files of ${BLOB_KB} KiB at the head, ${COMMITS} commits of ${CHURN} rewritten files; origin ${mb(duBytes(bare))} (generated in ${((Date.now() - t0) / 1000).toFixed(1)} s); strategy ${STRATEGY}`);
  const plain = [];
  const partial = [];
  // Interleaved, so a burst of load on the shared machine hits both alike.
  for (let i = 0; i < REPS; i++) {
    plain.push(firstDeploy(url, `plain-${i}`));
    partial.push(firstDeploy(url, `partial-${i}`, { filter: 'blob:none' }));
  }
  const best = (runs) => runs.reduce((a, b) => (b.ms < a.ms ? b : a));
  const p = best(plain);
  const q = best(partial);
  console.log(`first deploy, plain clone            ${p.ms.toFixed(0).padStart(7)} ms  repository ${mb(p.bytes)}`);
  console.log(`first deploy, clone.filter blob:none  ${q.ms.toFixed(0).padStart(7)} ms  repository ${mb(q.bytes)}  ${(q.ms / p.ms).toFixed(2)}x the time, ${(q.bytes / p.bytes).toFixed(2)}x the size`);
  console.log(`(best of ${REPS} each; all runs: plain ${plain.map((r) => r.ms.toFixed(0)).join(', ')} ms; partial ${partial.map((r) => r.ms.toFixed(0)).join(', ')} ms)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
