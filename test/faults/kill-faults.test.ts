/**
 * Row 19: `kill -9` of a run at each step. Each step blocks on a file the test controls
 * (a git wrapper for the fetch, the deploy script, the health check after the switch), so
 * the kill lands exactly there; the state write, too short to hit from outside, pauses at
 * the POLLPRAY_FAILPOINT=state-write failpoint (src/failpoints.ts). Then the fault is
 * lifted and the next run must end consistent.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { findBinary } from '../helpers/require-env.js';
import { pidFile, processGone, until } from '../helpers/pollpray-cli.js';
import { expectState, faultWorld, releaseDirs, short, type FaultWorld } from './fault-world.js';

const GIT = findBinary('git') ?? '/usr/bin/git';

type Step = 'fetch' | 'script' | 'health';

async function killAt(step: Step) {
  const f = await faultWorld({ strategy: 'releases' });
  const w = f.world.dir;
  const wait = (name: string) => `echo $$ > "${w}/${name}.pid"; while [ ! -f "${w}/go-${name}" ]; do sleep 0.05; done`;
  mkdirSync(join(w, 'bin'));
  f.world.script('bin/git', `for a in "$@"; do [ "$a" = fetch ] && [ -f "${w}/block-fetch" ] && { ${wait('fetch')}; }; done\nexec ${GIT} "$@"`);
  const deploy = f.world.script('deploy.sh', `echo "$POLLPRAY_NEW_SHA" >> "${w}/calls.log"\n[ -f "${w}/block-script" ] && { ${wait('script')}; }\ntrue`);
  const health = f.world.script('health.sh', `[ -f "${w}/block-health" ] && { ${wait('health')}; }\ntrue`);
  f.write({ deploy, health: { command: [health], timeout: '30s', retries: 0 } });
  const env = { PATH: `${join(w, 'bin')}:${process.env.PATH ?? ''}` };

  const good = await f.origin.head();
  expect((await f.world.cli(['run'], { env })).exitCode).toBe(0);
  const before = readlinkSync(join(f.path, 'current'));
  const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');

  writeFileSync(join(w, `block-${step}`), '');
  const victim = f.world.spawn(['run'], { env });
  await until(() => existsSync(join(w, `${step}.pid`)), 15_000, `the run to reach its ${step}`);
  victim.kill('SIGKILL');
  await victim;
  // What was running under the killed run finishes on its own (an orphaned git) or is ended by the next run.
  const orphan = await pidFile(join(w, `${step}.pid`));
  writeFileSync(join(w, `go-${step}`), '');
  if (step === 'fetch') await until(() => processGone(orphan), 10_000, 'the orphaned git to finish');

  // Killed before the switch: the old release is live; after it: the new, complete one.
  expect(readlinkSync(join(f.path, 'current'))).toBe(step === 'health' ? `releases/${releaseDirs(f.path).at(-1) ?? ''}` : before);
  expectState(f.world, 'app', { deployedSha: good });

  const r = await f.world.cli(['run'], { env });
  expect(r.exitCode, r.stderr).toBe(0);
  expect(f.live()).toBe(short(next));
  expectState(f.world, 'app', { deployedSha: next, lastResult: 'deployed' });
  for (const name of releaseDirs(f.path)) expect(existsSync(join(f.path, '.pollpray', 'releases', `${name}.json`)), name).toBe(true);
  expect(readFileSync(join(f.path, 'current', 'v.txt'), 'utf8')).toBe('2\n');
  await until(() => processGone(orphan), 10_000, `the ${step} of the killed run to be gone`);
  return f;
}

describe('kill -9 at each step', { timeout: 40_000 }, () => {
  it('#19 kill -9 during the fetch: the rerun ends consistent on the new commit', async () => {
    await killAt('fetch');
  });

  it('#19 kill -9 during the deploy script: partial release removed, the rerun deploys', async () => {
    const f = await killAt('script');
    expect(f.world.logText()).toMatch(/removed unfinished release/);
  });

  it('#19 kill -9 after the switch, before the state write: the rerun ends consistent', async () => {
    await killAt('health');
  });

  it('#19 kill -9 inside the state write (releases): state.json stays the old state, the temp file is cleaned, the rerun ends consistent', async () => {
    await killInStateWrite('releases');
  });

  it('#19 kill -9 inside the state write (in-place): state.json stays the old state, the temp file is cleaned, the rerun ends consistent', async () => {
    await killInStateWrite('in-place');
  });

  it('#19 kill -9 during the deploy script: the next run ends the child it left, also after the script itself exited', async () => {
    const f = await faultWorld({ strategy: 'releases' });
    const w = f.world.dir;
    const deploy = f.world.script(
      'deploy.sh',
      `[ -f "${w}/block" ] || exit 0\nsleep 60 &\necho $! > "${w}/child.pid"\necho $$ > "${w}/script.pid"\nwhile [ ! -f "${w}/go" ]; do sleep 0.05; done`,
    );
    f.write({ deploy });
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');

    writeFileSync(join(w, 'block'), '');
    const victim = f.world.spawn(['run']);
    await until(() => existsSync(join(w, 'script.pid')), 15_000, 'the run to reach its deploy script');
    victim.kill('SIGKILL');
    await victim;
    // The orphaned script finishes on its own and init reaps it; its background child
    // lives on in the script's process group, which now has no leader.
    writeFileSync(join(w, 'go'), '');
    const script = await pidFile(join(w, 'script.pid'));
    const child = await pidFile(join(w, 'child.pid'));
    onTestFinished(() => {
      if (!processGone(child)) process.kill(child, 'SIGKILL');
    });
    await until(() => !existsSync(`/proc/${script}`), 10_000, 'the orphaned script to exit and be reaped');
    expect(processGone(child)).toBe(false);

    rmSync(join(w, 'block'));
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
    await until(() => processGone(child), 5_000, 'the child the killed run left to be ended');
    expect(f.world.logText()).toMatch(/ending process group \d+ left running by an interrupted run/);
  });

  it('#19 kill -9 right after the deploy script started, before its group was recorded: the next run still ends its child', async () => {
    const f = await faultWorld({ strategy: 'in-place' });
    const w = f.world.dir;
    const deploy = f.world.script('deploy.sh', `sleep 60 &\necho $! > "${w}/child.pid"`);
    f.write({ deploy });
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    rmSync(join(w, 'child.pid'));
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');

    // The fault: pollpray stalls right after it started the script, before it records the
    // script's process group, and is killed there (a preload holds it at that point).
    const hold = join(w, 'hold.mjs');
    writeFileSync(
      hold,
      [
        "import cp from 'node:child_process';",
        "import { syncBuiltinESMExports } from 'node:module';",
        'const spawn = cp.spawn;',
        'cp.spawn = function (...args) {',
        '  const child = spawn.apply(this, args);',
        `  if (String(args[0]).endsWith('deploy.sh')) { const until = Date.now() + 30_000; while (Date.now() < until); }`,
        '  return child;',
        '};',
        'syncBuiltinESMExports();',
      ].join('\n'),
    );
    const victim = f.world.spawn(['run'], { env: { NODE_OPTIONS: `--import ${hold}` } });
    await until(() => existsSync(join(w, 'child.pid')), 15_000, 'the script to start its child');
    victim.kill('SIGKILL');
    await victim;
    const child = await pidFile(join(w, 'child.pid'));
    onTestFinished(() => {
      if (!processGone(child)) process.kill(child, 'SIGKILL');
    });
    expect(processGone(child)).toBe(false);

    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
    await until(() => processGone(child), 5_000, 'the child the killed run left to be ended');
    expect(f.world.logText()).toMatch(/ending process group \d+ left running by an interrupted run/);
  });
});

/** Resolves when `stream` has printed a line matching `pattern` (the run announcing its failpoint). */
function waitForLine(stream: Readable, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      stream.off('data', onData);
      reject(new Error(`no line matching ${pattern} within ${timeoutMs}ms; stderr so far: ${text}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n').find((l) => pattern.test(l));
      if (line === undefined) return;
      clearTimeout(timer);
      stream.off('data', onData);
      resolve(line);
    };
    stream.on('data', onData);
  });
}

const stateTemps = (f: FaultWorld) => readdirSync(join(f.world.stateDir, 'targets', 'app')).filter((n) => n.startsWith('.state.json.tmp-'));
const deployedShas = (f: FaultWorld) => f.world.history('app').filter((h) => h.result === 'deployed').map((h) => h.sha);

async function killInStateWrite(strategy: 'in-place' | 'releases') {
  const f = await faultWorld({ strategy });
  const stateFile = join(f.world.stateDir, 'targets', 'app', 'state.json');
  const good = await f.origin.head();
  expect((await f.world.cli(['run'])).exitCode).toBe(0);
  const oldState = readFileSync(stateFile, 'utf8');
  const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');

  const victim = f.world.spawn(['run'], { env: { POLLPRAY_FAILPOINT: 'state-write' } });
  if (!victim.stderr || victim.pid === undefined) throw new Error('the run has no stderr pipe');
  await waitForLine(victim.stderr, /failpoint state-write: paused/, 20_000);
  victim.kill('SIGKILL');
  expect((await victim).signal).toBe('SIGKILL');

  // The kill landed inside the write: the new state was whole in the temp file, and the
  // rename never happened, so state.json is the old state byte for byte, not a torn one.
  expect(stateTemps(f)).toEqual([`.state.json.tmp-${victim.pid}`]);
  expect(JSON.parse(readFileSync(join(stateFile, '..', stateTemps(f)[0] ?? ''), 'utf8'))).toMatchObject({ deployedSha: next });
  expect(readFileSync(stateFile, 'utf8')).toBe(oldState);
  // The code went live before the write: disk says next, state still says good.
  expect(f.live()).toBe(short(next));
  expect(deployedShas(f)).toEqual([good]);

  const r = await f.world.cli(['run']);
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  expect(stateTemps(f)).toEqual([]);
  expect(f.live()).toBe(short(next));
  expectState(f.world, 'app', { deployedSha: next, previousSha: good, lastResult: 'deployed', lastError: null });
  // One history line per finished deploy: the killed run never finished, the rerun did.
  expect(deployedShas(f)).toEqual([good, next]);
  if (strategy === 'releases') {
    const state = f.world.state('app') as { currentRelease: string; previousRelease: string };
    expect(readlinkSync(join(f.path, 'current'))).toBe(`releases/${state.currentRelease}`);
    // The previous release is the one of the previous commit, so a rollback really goes back.
    expect(state.previousRelease.slice(-12)).toBe(short(good));
    for (const name of releaseDirs(f.path)) expect(existsSync(join(f.path, '.pollpray', 'releases', `${name}.json`)), name).toBe(true);
  }
  expect(readFileSync(join(strategy === 'releases' ? join(f.path, 'current') : f.path, 'v.txt'), 'utf8')).toBe('2\n');

  // Consistent means settled: the next run finds nothing to do.
  const calls = f.calls().length;
  const again = await f.world.cli(['run']);
  expect(again.exitCode, again.stderr).toBe(0);
  expect(f.world.state('app')).toMatchObject({ deployedSha: next, lastResult: 'unchanged' });
  expect(f.calls()).toHaveLength(calls);
}
