/** Faults in the deploy script, the health check and concurrent runs (rows 12-15, 17, 18 and 88 of the failure-modes table). */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { lockName } from '../../src/state/lock.js';
import { startGitHttp } from '../helpers/git-http.js';
import { startHealthServer } from '../helpers/health-server.js';
import { pidFile, processGone, until } from '../helpers/pollpray-cli.js';
import { requireRoot } from '../helpers/require-env.js';
import { expectOneLineError, expectState, faultWorld, releaseDirs, short } from './fault-world.js';

/** What the commit ships decides what the script does: fail, hang, leave a child, wait for `go`. */
function behaviours(w: string): string {
  return [
    `echo "$POLLPRAY_NEW_SHA $POLLPRAY_ROLLBACK" >> "${w}/calls.log"`,
    '[ -f fail ] && { echo "build broke" >&2; exit 3; }',
    `[ -f hang ] && { trap '' TERM; echo $$ > "${w}/script.pid"; sleep 9999 & echo $! > "${w}/child.pid"; while :; do wait; done; }`,
    `[ -f kids ] && { sleep 600 & echo $! > "${w}/child.pid"; }`,
    `[ -f block ] && { touch "${w}/blocked"; while [ ! -f "${w}/go" ]; do sleep 0.05; done; }`,
    'true',
  ].join('\n');
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

/** Another local user (nobody) binding an abstract socket name, until let go. */
async function squat(name: string): Promise<{ letGo(): Promise<number | undefined> }> {
  const holdIt = `const s = require('net').createServer().listen({ path: ${JSON.stringify(name)} }, () => console.log('held')); process.stdin.on('end', () => s.close()).resume();`;
  const squatter = execa('runuser', ['-u', 'nobody', '--', process.execPath, '-e', holdIt], { cwd: '/', reject: false });
  await new Promise<void>((resolve, reject) => {
    squatter.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('held') && resolve());
    void squatter.then((r) => reject(new Error(`the other user's process ended: ${r.stderr}`)));
  });
  // Not the subprocess itself: it is a promise, and returning it would wait for its end.
  return {
    letGo: async () => {
      squatter.stdin?.end();
      return (await squatter).exitCode;
    },
  };
}

describe('script faults', { timeout: 30_000 }, () => {
  it('#12 deploy script exits non-zero: not switched, failure counted, next good commit deploys', async () => {
    const f = await faultWorld({ strategy: 'releases' });
    f.write({ deploy: f.world.script('build.sh', behaviours(f.world.dir)) });
    const good = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const bad = await f.origin.commit({ fail: '' }, 'Breaks the build');
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', /deploy script exited with 3: build broke/);
    expect(f.live()).toBe(short(good));
    expect(releaseDirs(f.path)).toHaveLength(1);
    expectState(f.world, 'app', { deployedSha: good, remoteSha: bad, lastResult: 'failed' });
    expect((f.world.state('app')?.failures as Record<string, { attempts: number }>)[bad]).toMatchObject({ attempts: 1 });

    const fixed = await f.origin.git(['rm', '-q', 'fail']).then(() => f.origin.commit({ 'v.txt': 'fixed\n' }, 'Fix the build'));
    const again = await f.world.cli(['run']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(f.live()).toBe(short(fixed));
  });

  it('#48 deploy script not executable: a host fault, not counted, shown by status with the fix; after chmod +x the next run deploys the same commit (no --force)', async () => {
    const f = await faultWorld();
    const script = f.world.script('build.sh', behaviours(f.world.dir));
    f.write({ deploy: script });
    const good = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    chmodSync(script, 0o644);
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', new RegExp(`deploy script ${script} is missing or not executable by root.*not counted against ${short(next)}.*\\(fix: chmod \\+x ${script}`));
    expect(r.stderr).not.toMatch(/bug in pollpray|test-ssh/);
    // Found before the checkout moved: the live code never changed, so nothing to roll back.
    expect(f.live()).toBe(short(good));
    expect(r.stderr).not.toMatch(/rolled back|rollback/);
    expectState(f.world, 'app', { deployedSha: good, remoteSha: next, lastResult: 'failed', failures: {}, rolledBack: false });
    // status says the target is held by the host, with the fix, as it says paused or quarantined.
    const held = await f.world.cli(['status']);
    expect(held.exitCode, held.stderr).toBe(0);
    expect(held.stdout).toMatch(/^app\s+main\s+\S+\s+failed\s+\S+ \S+\s+host fault$/m);
    expect(held.stdout).toMatch(new RegExp(`^  app: held by a host fault: deploy script ${script} is missing or not executable.*\\(fix: chmod \\+x ${script}`, 'm'));
    expect(held.stdout).not.toMatch(/last error/);
    expect(JSON.parse((await f.world.cli(['status', '--json'])).stdout)).toMatchObject({ targets: [{ target: 'app', host_fault: true, failed_attempts: 0 }] });

    chmodSync(script, 0o755);
    const again = await f.world.cli(['run']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
    expectState(f.world, 'app', { deployedSha: next, lastResult: 'deployed' });
    expect((await f.world.cli(['status'])).stdout).not.toMatch(/host fault/);
    expect(JSON.parse((await f.world.cli(['status', '--json'])).stdout)).toMatchObject({ targets: [{ target: 'app', host_fault: false }] });
  });

  it('#79 deploy script that cannot start from its #! line (Windows line endings; env naming a program not on its PATH): found before the code moves, a host fault, not counted; validate and doctor name the same fix', async () => {
    const f = await faultWorld();
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const script = join(f.world.dir, 'deploy.sh');
    const calls = `echo "$POLLPRAY_NEW_SHA $POLLPRAY_ROLLBACK" >> "${f.world.dir}/calls.log"`;
    const good = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');

    // Saved on Windows: before, "could not start (ENOENT)" with only "check its #! line".
    writeFileSync(script, `#!/bin/sh\r\n${calls}\r\n`);
    const crlf = await f.world.cli(['run']);
    expect(crlf.exitCode).toBe(1);
    const sed = `sed -i 's/\\r$//' ${script}`;
    expectOneLineError(crlf.stderr, 'app', new RegExp(`deploy script ${esc(script)} has Windows line endings: its #! line ends in a carriage return.*not counted against ${short(next)}.*\\(fix: ${esc(sed)}\\)$`));
    expect(f.live()).toBe(short(good));
    expectState(f.world, 'app', { deployedSha: good, lastResult: 'failed', failures: {}, rolledBack: false });
    const validate = await f.world.cli(['validate']);
    expect(validate.exitCode).toBe(2);
    expect(validate.stderr).toMatch(new RegExp(`targets\\.app\\.deploy: ${esc(script)} has Windows line endings.*\\(fix: ${esc(sed)}\\)`));
    expect((await f.world.cli(['doctor'])).stdout).toMatch(new RegExp(`^FAIL +deploy script \\(app\\) +${esc(script)} has Windows line endings.*\\(fix: ${esc(sed)}\\)$`, 'm'));
    // The fix as printed.
    execFileSync('sh', ['-c', sed]);
    const fixed = await f.world.cli(['run']);
    expect(fixed.exitCode, fixed.stderr).toBe(0);
    expect(f.live()).toBe(short(next));

    // #!/usr/bin/env <program> where the PATH the script gets has no such program: before,
    // env's exit 127 read as a failing build, counted against the commit and rolled back.
    const third = await f.origin.commit({ 'v.txt': '3\n' }, 'v3');
    writeFileSync(script, `#!/usr/bin/env pollpray-test-builder\n${calls}\n`);
    const env = await f.world.cli(['run']);
    expect(env.exitCode).toBe(1);
    expectOneLineError(
      env.stderr,
      'app',
      new RegExp(`deploy script ${esc(script)} runs pollpray-test-builder through env \\(#!/usr/bin/env pollpray-test-builder\\), and pollpray-test-builder is not on the PATH it runs with.*not counted against ${short(third)}.*\\(fix: write pollpray-test-builder's full path in the #! line of ${esc(script)}, or set targets\\.app\\.env\\.PATH\\)$`),
    );
    expect(f.live()).toBe(short(next));
    expectState(f.world, 'app', { deployedSha: next, failures: {}, rolledBack: false });
    // The fix: a PATH in the target's env that has it.
    const bin = join(f.world.dir, 'bin');
    mkdirSync(bin);
    f.world.script('bin/pollpray-test-builder', 'exec sh "$@"');
    f.write({ env: { PATH: `${bin}:/usr/bin:/bin` } });
    const withPath = await f.world.cli(['run']);
    expect(withPath.exitCode, withPath.stderr).toBe(0);
    expect(f.live()).toBe(short(third));
    expect(f.calls().at(-1)).toBe(`${third} 0`);
  });

  it('#79 a step or health check naming a program this host cannot start (npm not on cron\'s PATH, a health script not installed): found before the code moves, a host fault, not counted; validate and doctor say the same', async () => {
    const f = await faultWorld();
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const deploy = join(f.world.dir, 'deploy.sh');
    const bin = join(f.world.dir, 'bin');
    mkdirSync(bin);
    // A build tool that is installed, but where cron's PATH does not look.
    f.world.script('bin/pollpray-test-npm', `exec ${deploy}`);
    const steps = [{ name: 'build', run: ['pollpray-test-npm', 'ci'] }];
    f.write({ deploy: undefined, steps, env: { PATH: `${bin}:/usr/bin:/bin` } });
    const good = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');

    f.write({ deploy: undefined, steps, env: { PATH: '/usr/bin:/bin' } });
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    const fix = "write pollpray-test-npm's full path in targets.app.steps[0].run, or set targets.app.env.PATH";
    expectOneLineError(r.stderr, 'app', new RegExp(`step "build": pollpray-test-npm is not on the PATH it runs with \\(/usr/bin:/bin\\).*not counted against ${short(next)}.*\\(fix: ${esc(fix)}\\)$`));
    expect(f.live()).toBe(short(good));
    expectState(f.world, 'app', { deployedSha: good, lastResult: 'failed', failures: {}, rolledBack: false });
    const validate = await f.world.cli(['validate']);
    expect(validate.exitCode).toBe(2);
    expect(validate.stderr).toMatch(new RegExp(`targets\\.app\\.steps\\[0\\]\\.run: pollpray-test-npm is not on the PATH it runs with \\(/usr/bin:/bin\\) \\(fix: ${esc(fix)}\\)`));
    expect((await f.world.cli(['doctor'])).stdout).toMatch(new RegExp(`^FAIL +step "build" \\(app\\) +pollpray-test-npm is not on the PATH.*\\(fix: ${esc(fix)}\\)$`, 'm'));

    // A health script the config names that is not there: before, the commit went live,
    // failed its health check, was rolled back and counted.
    const missing = join(f.world.dir, 'healthcheck.sh');
    f.write({ deploy: undefined, steps, env: { PATH: `${bin}:/usr/bin:/bin` }, health: { command: [missing], retries: 0 } });
    const h = await f.world.cli(['run']);
    expect(h.exitCode).toBe(1);
    expectOneLineError(h.stderr, 'app', new RegExp(`health command: ${esc(missing)} is missing or not executable.*not counted against ${short(next)}.*\\(fix: chmod \\+x ${esc(missing)}, or fix targets\\.app\\.health\\.command\\)$`));
    expect(f.live()).toBe(short(good));
    expectState(f.world, 'app', { deployedSha: good, failures: {}, rolledBack: false });

    f.world.script('healthcheck.sh', 'exit 0');
    const fixed = await f.world.cli(['run']);
    expect(fixed.exitCode, fixed.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
  });

  it('#13 deploy script hangs: TERM then KILL of its process group at deploy_timeout', async () => {
    const f = await faultWorld();
    f.write({ deploy: f.world.script('build.sh', behaviours(f.world.dir)), deploy_timeout: '1s' });
    const good = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    await f.origin.commit({ hang: '' }, 'Hangs, ignoring SIGTERM');
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', /deploy script timed out after 1\.0s and was killed with its children; rolled back to/);
    expect(r.durationMs).toBeLessThan(15_000);
    const script = await pidFile(join(f.world.dir, 'script.pid'));
    const child = await pidFile(join(f.world.dir, 'child.pid'));
    expect(processGone(script)).toBe(true);
    expect(processGone(child)).toBe(true);
    expect(f.world.logText()).toMatch(/timed out after 1\.0s and was killed with its children/);
    // in-place: the hung commit went live at the reset, so it is rolled back.
    expect(f.live()).toBe(short(good));
    expectState(f.world, 'app', { deployedSha: good, lastResult: 'failed', rolledBack: true });

    const next = await f.origin.git(['rm', '-q', 'hang']).then(() => f.origin.commit({ 'v.txt': '3\n' }, 'No more hang'));
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    expect(f.live()).toBe(short(next));
  });

  it('#14 script leaves children behind: they are killed and do not hold the lock', async () => {
    const f = await faultWorld();
    f.write({ deploy: f.world.script('build.sh', behaviours(f.world.dir)) });
    await f.origin.commit({ kids: '' }, 'Starts a background sleep');
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    const child = await pidFile(join(f.world.dir, 'child.pid'));
    await until(() => processGone(child), 5000, 'the background child to be ended');
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const again = await f.world.cli(['run']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(f.world.logText()).not.toMatch(/skipped: run in progress/);
    expect(f.live()).toBe(short(next));
  });

  it('#15 script prints secrets: zero hits in logs, state, history and notifications', async () => {
    const TOKEN = 'ghp_Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2';
    const PASSWORD = 'sw0rdfish-4417';
    const KEY = 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQfault';
    // Shapes as a script or git may print them: a URL glued to the word before it, and a
    // token in a query string.
    const GLUED = 'gluedPw-5521';
    const QUERY = 'qtok-8d1f0c';
    const f = await faultWorld();
    const notified = join(f.world.dir, 'notified.txt');
    const notifier = f.world.script('notify.sh', `{ cat; env | grep '^POLLPRAY_'; } >> "${notified}"`);
    f.write(
      {
        deploy: f.world.script(
          'leaky.sh',
          [
            `echo "token ${TOKEN}"`,
            `echo "pushing to https://deploy:${PASSWORD}@git.example.com/app.git" >&2`,
            // No user name before the password, as redis URLs are written.
            `echo "cache at redis://:${PASSWORD}@127.0.0.1:6379/0"`,
            'echo "-----BEGIN OPENSSH PRIVATE KEY-----"',
            `echo "${KEY}"`,
            'echo "-----END OPENSSH PRIVATE KEY-----"',
            `echo "rc=1https://deploy:${GLUED}@git.example.com/app.git"`,
            `echo "GET https://git.example.com/api/v4/projects?private_token=${QUERY}&page=2" >&2`,
            `echo "failed with ${TOKEN} at https://deploy:${PASSWORD}@git.example.com" >&2`,
            'exit 4',
          ].join('\n'),
        ),
      },
      { notify: [{ command: [notifier], timeout: '5s' }] },
    );
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', /deploy script exited with 4/);
    await until(() => existsSync(notified), 5000, 'the failure notification');
    expect(f.world.logText()).toMatch(/token \S*REDACTED/);
    const places: Record<string, string> = {
      stdout: r.stdout,
      stderr: r.stderr,
      notification: readFileSync(notified, 'utf8'),
      ...Object.fromEntries([...filesUnder(f.world.logDir), ...filesUnder(join(f.world.stateDir, 'targets'))].map((p) => [p, readFileSync(p, 'utf8')])),
    };
    expect(Object.keys(places).some((p) => p.endsWith('history.jsonl'))).toBe(true);
    const leaks = Object.entries(places).flatMap(([where, text]) => [TOKEN, PASSWORD, KEY, GLUED, QUERY].filter((s) => text.includes(s)).map((s) => `${s} in ${where}`));
    expect(leaks).toEqual([]);
  });

  it('#88 a failing script whose last line is 200 KiB long: the failure is reported with that line cut to 1000 characters, and the command notification of it is delivered', async () => {
    const f = await faultWorld({ script: `[ -f fail ] && { printf 'x%.0s' $(seq 200000) >&2; echo >&2; exit 3; }\ntrue` });
    const notified = join(f.world.dir, 'notified.txt');
    const notifier = f.world.script('notify.sh', `printf '%s\\n' "$POLLPRAY_EVENT \${#POLLPRAY_MESSAGE}" >> "${notified}"`);
    f.write({}, { notify: [{ command: [notifier], on: ['deployed', 'failed'], timeout: '5s' }] });
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const bad = await f.origin.commit({ fail: '' }, 'Fails with a long line');
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', new RegExp(`deploy script exited with 3: x{999}…; rolled back`));
    expect(r.stderr.length).toBeLessThan(2000);
    const lines = readFileSync(notified, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^failed \d{3,4}$/);
    expect(f.world.logText()).not.toMatch(/notify failed .* failed: could not start/);
    expect(JSON.stringify(f.world.state('app')).length).toBeLessThan(5000);
    expect((f.world.state('app')?.failures as Record<string, unknown>)[bad]).toBeDefined();
  });

  it('#17 restart or health check fails: endpoint 500 after the switch rolls back, exit 1', async () => {
    const f = await faultWorld({ strategy: 'releases' });
    const health = await startHealthServer(join(f.path, 'current', 'status'));
    f.write({ health: { http: health.url, timeout: '1s', retries: 0, interval: '1s' } });
    const good = await f.origin.commit({ status: 'ok\n' }, 'Healthy');
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    await f.origin.commit({ status: 'db down\n' }, 'Unhealthy');
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', /health/i);
    expect(f.live()).toBe(short(good));
    expectState(f.world, 'app', { deployedSha: good, lastResult: 'failed', rolledBack: true });
    expect(readFileSync(join(f.path, 'current', 'status'), 'utf8')).toBe('ok\n');

    const fixed = await f.origin.commit({ status: 'ok\n' }, 'Healthy again');
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    expect(f.live()).toBe(short(fixed));
  });

  it('#18 overlapping runs: one deploy, the other skips cleanly with exit 0', async () => {
    const f = await faultWorld();
    f.write({ deploy: f.world.script('build.sh', behaviours(f.world.dir)) });
    const head = await f.origin.commit({ block: '' }, 'Slow deploy');
    const first = f.world.spawn(['run']);
    await until(() => existsSync(join(f.world.dir, 'blocked')), 15_000, 'the first run to start its script');
    const second = await f.world.cli(['run']);
    writeFileSync(join(f.world.dir, 'go'), '');
    expect(second.exitCode).toBe(0);
    expect(second.stderr).toBe('');
    expect((await first).exitCode).toBe(0);
    expect(f.calls()).toHaveLength(1);
    expect(f.world.logText()).toMatch(/skipped: run in progress/);
    expectState(f.world, 'app', { deployedSha: head, lastResult: 'deployed' });
  });

  it('#38 credentials in an https repo URL never reach the environment of the deploy script, a step, the health check or a notify command (which run what the commit contains)', async () => {
    const PASSWORD = 'envsecret-q7w8e9';
    const w = (name: string) => join(f.world.dir, name);
    const f = await faultWorld();
    const server = await startGitHttp(f.origin, 'deploy', PASSWORD, PASSWORD);
    const dump = (name: string) => f.world.script(`${name}.sh`, `env > "${w(`${name}.env`)}"`);
    const repo = server.url.replace('http://', `http://deploy:${PASSWORD}@`);
    const notify = { notify: [{ command: [dump('notify')], on: ['deployed'] }] };
    f.write({ repo, deploy: dump('deploy'), health: { command: [dump('health')] } }, notify);
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(await f.origin.head()));
    // A pipeline's steps, on the next commit.
    f.write({ repo, deploy: undefined, steps: [{ name: 'build', run: [dump('step')] }] }, notify);
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const again = await f.world.cli(['run']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
    const basic = Buffer.from(`deploy:${PASSWORD}`).toString('base64');
    for (const name of ['deploy', 'step', 'health', 'notify']) {
      const env = readFileSync(w(`${name}.env`), 'utf8');
      expect(env, name).toMatch(/^PATH=/m);
      expect(env, name).not.toContain(PASSWORD);
      expect(env, name).not.toContain(basic);
      expect(env, name).not.toMatch(/^GIT_CONFIG_(COUNT|KEY_|VALUE_)/m);
    }
  });

  it.skipIf(requireRoot())('#97 another local user holding a target\'s lock (the abstract socket anyone can bind): the run says so, exit 1, naming the process and its uid; once it lets go the next run deploys', async () => {
    const f = await faultWorld();
    const first = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const name = lockName(f.world.stateDir, 'app');
    const squatter = await squat(name);

    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', new RegExp(`^pollpray: app: pollpray's lock @${name.slice(1)} is held by process \\d+ of uid 65534, not by a pollpray run: no run can work on this target while it is held \\(fix: find the holder with: ss -xlp \\| grep ${name.slice(1)} \\(as root\\), and stop it;`));
    expect(f.live()).toBe(short(first));
    expect(f.calls()).toHaveLength(1);

    expect(await squatter.letGo()).toBe(0);
    const after = await f.world.cli(['run']);
    expect(after.exitCode, after.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
  });

  it.skipIf(requireRoot())("#102 another local user holding a target's signals lock (the abstract socket of its notification and metrics bookkeeping): after the wait for another run, the run names the process and its uid, not a busy run; once it lets go the outcome is recorded again", async () => {
    const f = await faultWorld();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const signalsFile = join(f.world.stateDir, 'targets', 'app', 'signals.json');
    const counted = () => (JSON.parse(readFileSync(signalsFile, 'utf8')) as { deploys: Record<string, number> }).deploys.deployed;
    expect(counted()).toBe(1);
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const name = lockName(f.world.stateDir, 'app#signals');
    const squatter = await squat(name);

    const r = await f.world.cli(['run']);
    // The deploy itself is not held up: only its bookkeeping, and that is said.
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
    const warned = f.world.logText().split('\n').filter((l) => l.includes('outcome not recorded'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(new RegExp(`pollpray's lock @${name.slice(1)} is held by process \\d+ of uid 65534, not by a pollpray run: this target's outcomes are not recorded for notifications and metrics while it is held \\(fix: find the holder with: ss -xlp \\| grep ${name.slice(1)} \\(as root\\), and stop it;`));
    expect(warned[0]).not.toMatch(/busy in another run/);
    expect(counted()).toBe(1);

    expect(await squatter.letGo()).toBe(0);
    const third = await f.origin.commit({ 'v.txt': '3\n' }, 'v3');
    const after = await f.world.cli(['run']);
    expect(after.exitCode, after.stderr).toBe(0);
    expect(f.live()).toBe(short(third));
    expect(counted()).toBe(2);
  });
});
