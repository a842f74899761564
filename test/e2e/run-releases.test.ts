import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startHealthServer } from '../helpers/health-server.js';
import { makeOrigin } from '../helpers/origin.js';
import { linesOf, makeWorld, until } from '../helpers/pollpray-cli.js';
import { requireBinary, requireRoot } from '../helpers/require-env.js';

/** A releases target: the deploy script records "NEW_SHA cwd" and can be slowed or broken by files in the commit. */
async function setup(opts: { target?: Record<string, unknown>; config?: Record<string, unknown> } = {}) {
  const origin = await makeOrigin();
  await origin.commit({ status: 'ok\n' }, 'Healthy app');
  const world = makeWorld();
  const path = join(world.dir, 'www', 'app');
  const deploy = world.script(
    'deploy.sh',
    [
      `echo "$POLLPRAY_NEW_SHA $PWD $POLLPRAY_ROLLBACK" >> "${world.dir}/calls.log"`,
      '[ -f slow ] && sleep "$(cat slow)"',
      '[ -f fail-build ] && { echo "npm run build failed" >&2; exit 2; }',
      'echo built > built.txt',
    ].join('\n'),
  );
  const write = (target: Record<string, unknown> = {}) =>
    world.writeConfig({
      ...opts.config,
      targets: { app: { repo: origin.url, path, strategy: 'releases', deploy, deploy_timeout: '1m', ...opts.target, ...target } },
    });
  write();
  const current = () => readlinkSync(join(path, 'current'));
  const releases = () => readdirSync(join(path, 'releases')).sort();
  const calls = () => linesOf(join(world.dir, 'calls.log'));
  return { origin, world, path, current, releases, calls, write };
}

const short = (sha: string) => sha.slice(0, 12);

describe('pollpray run, releases strategy', { timeout: 60_000 }, () => {
  it('deploys into a new release, links shared paths and switches current to it', async () => {
    const { origin, world, path, current, releases, calls } = await setup({ target: { shared: ['media', '.env'], keep_releases: 3 } });
    mkdirSync(join(path, 'shared'), { recursive: true });
    writeFileSync(join(path, 'shared', '.env'), 'SECRET=1\n');
    const first = await origin.head();
    const r1 = await world.cli(['run']);
    expect(r1.exitCode, r1.stderr).toBe(0);
    const [rel1] = releases();
    expect(rel1).toMatch(new RegExp(`^\\d{8}T\\d{6}\\.\\d{3}Z-${short(first)}$`));
    expect(current()).toBe(`releases/${rel1}`);
    expect(readFileSync(join(path, 'current', 'status'), 'utf8')).toBe('ok\n');
    expect(readFileSync(join(path, 'current', 'built.txt'), 'utf8')).toBe('built\n');
    expect(existsSync(join(path, 'current', '.git'))).toBe(false);
    expect(lstatSync(join(path, 'current', '.env')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(path, 'current', '.env'), 'utf8')).toBe('SECRET=1\n');
    expect(statSync(join(path, 'shared', 'media')).isDirectory()).toBe(true);
    expect(calls()).toEqual([`${first} ${join(path, 'releases', rel1 ?? '')} 0`]);

    writeFileSync(join(path, 'current', 'media', 'upload.png'), 'png');
    const second = await origin.commit({ 'app.txt': 'v2\n' }, 'Second version');
    const r2 = await world.cli(['run']);
    expect(r2.exitCode, r2.stderr).toBe(0);
    const [, rel2] = releases();
    expect(rel2).toMatch(new RegExp(`-${short(second)}$`));
    expect(current()).toBe(`releases/${rel2}`);
    expect(readFileSync(join(path, 'current', 'media', 'upload.png'), 'utf8')).toBe('png');
    expect(world.state('app')).toMatchObject({ deployedSha: second, previousSha: first, currentRelease: rel2, previousRelease: rel1, lastResult: 'deployed' });
    expect(world.history('app').map((h) => [h.result, h.sha, h.release])).toEqual([
      ['deployed', first, rel1],
      ['deployed', second, rel2],
    ]);
  });

  it('current always resolves while a deploy builds and switches', async () => {
    const { origin, world, path, calls } = await setup();
    expect((await world.cli(['run'])).exitCode).toBe(0);
    const next = await origin.commit({ slow: '1\n', 'app.txt': 'v2\n' }, 'Slow build');
    const run = world.spawn(['run']);
    let finished = false;
    void run.then(() => (finished = true));
    let checks = 0;
    const broken: string[] = [];
    while (!finished) {
      try {
        readFileSync(join(path, 'current', 'status'));
      } catch (err) {
        broken.push((err as Error).message);
      }
      checks++;
      await new Promise((r) => setImmediate(r));
    }
    expect((await run).exitCode).toBe(0);
    expect(broken).toEqual([]);
    expect(checks).toBeGreaterThan(100);
    expect(calls().at(-1)).toMatch(new RegExp(`^${next} `));
    expect(readFileSync(join(path, 'current', 'app.txt'), 'utf8')).toBe('v2\n');
  });

  it('a failing build leaves current untouched and removes the unfinished release', async () => {
    const { origin, world, current, releases } = await setup();
    await world.cli(['run']);
    const good = await origin.head();
    const before = current();
    const bad = await origin.commit({ 'fail-build': '' }, 'Breaks the build');
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^pollpray: app: deploy script exited with 2: npm run build failed \(fix: .+\)$/m);
    expect(current()).toBe(before);
    expect(releases()).toEqual([before.replace('releases/', '')]);
    expect(world.state('app')).toMatchObject({ deployedSha: good, remoteSha: bad, lastResult: 'failed', rolledBack: false });
  });

  it('after kill -9 between build and switch, the next run removes the partial release and deploys', async () => {
    const { origin, world, path, current, releases, calls, write } = await setup();
    await world.cli(['run']);
    const first = current();
    const next = await origin.commit({ slow: '30\n' }, 'Hangs in the build');
    const victim = world.spawn(['run']);
    await until(() => calls().length === 2, 15_000, 'the build of the second release to start');
    const partial = releases().find((n) => n.endsWith(short(next)));
    expect(partial).toBeDefined();
    victim.kill('SIGKILL');
    await victim;
    expect(current()).toBe(first);
    expect(existsSync(join(path, '.pollpray', 'releases', `${partial ?? ''}.json`))).toBe(false);

    await origin.commit({ slow: '0\n' }, 'Fast again');
    const head = await origin.head();
    write();
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(releases()).not.toContain(partial);
    expect(current()).toMatch(new RegExp(`-${short(head)}$`));
    expect(world.logText()).toContain(`removed unfinished release ${partial}`);
    expect(calls()).toHaveLength(3);
  });

  it('pruning keeps keep_releases plus the current and previous releases', async () => {
    const { origin, world, current, releases } = await setup({ target: { keep_releases: 2 } });
    expect((await world.cli(['run'])).exitCode).toBe(0);
    await origin.commit({ 'n.txt': '2\n' }, 'Version 2');
    expect((await world.cli(['run'])).exitCode).toBe(0);
    const [older, newer] = releases();
    // Roll back by hand to the older one, resume, deploy a new commit: the release that
    // was current then is now previous and must survive although only 2 are kept.
    expect((await world.cli(['rollback', 'app'])).exitCode).toBe(0);
    expect(current()).toBe(`releases/${older}`);
    expect((await world.cli(['resume', 'app'])).exitCode).toBe(0);
    await origin.commit({ 'n.txt': '3\n' }, 'Version 3');
    expect((await world.cli(['run'])).exitCode).toBe(0);
    const after = releases();
    expect(after).toHaveLength(3);
    expect(after.slice(0, 2)).toEqual([older, newer]);
    await origin.commit({ 'n.txt': '4\n' }, 'Version 4');
    expect((await world.cli(['run'])).exitCode).toBe(0);
    // Now previous is version 3: versions 1 and 2 go.
    expect(releases()).toEqual([after[2], current().replace('releases/', '')]);
  });

  it('refuses to create a release when free space is under min_free_space', async () => {
    const { world, path } = await setup({ target: { min_free_space: '1000TB' } });
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^pollpray: app: not enough disk space for a new release: .+ free at .+, min_free_space is 1000TB; not counted against \w{12}: the next run deploys it once this is fixed \(fix: free space on that filesystem .+\)$/m);
    expect(existsSync(join(path, 'releases')) ? readdirSync(join(path, 'releases')) : []).toEqual([]);
    expect(existsSync(join(path, 'current'))).toBe(false);
    // Not the commit's fault: no failure is counted against it.
    expect(world.state('app')).toMatchObject({ lastResult: 'failed', failures: {} });
  });

  it('refuse on a force-push keeps the deployed release and says what to do', async () => {
    const { origin, world, current } = await setup({ target: { on_force_push: 'refuse' } });
    const base = await origin.head();
    await origin.commit({ 'a.txt': 'a\n' }, 'a');
    await world.cli(['run']);
    const before = current();
    await origin.forcePushTo(base);
    await origin.commit({ 'b.txt': 'b\n' }, 'b instead of a');
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/app: refused: main was force-pushed/);
    expect(current()).toBe(before);
    const status = JSON.parse((await world.cli(['status', '--json'])).stdout) as { targets: Array<Record<string, unknown>> };
    expect(status.targets[0]).toMatchObject({ last_result: 'refused', last_error: expect.stringMatching(/pollpray run --force app/) });
  });
});

describe('health checks and automatic rollback', { timeout: 60_000 }, () => {
  it('an unhealthy release is rolled back to the previous one; status, history and the log say why', async () => {
    const { origin, world, path, current } = await setup();
    const health = await startHealthServer(join(path, 'current', 'status'));
    const write = (extra: Record<string, unknown>) =>
      world.writeConfig({
        targets: {
          app: {
            repo: origin.url,
            path,
            strategy: 'releases',
            deploy: join(world.dir, 'deploy.sh'),
            health: { http: health.url, expect_status: 200, body: 'ok', timeout: '1s', retries: 1, interval: '100ms' },
            ...extra,
          },
        },
      });
    write({});
    expect((await world.cli(['run'])).exitCode).toBe(0);
    const good = await origin.head();
    const goodRelease = current();

    const bad = await origin.commit({ status: 'database gone\n' }, 'Break the health endpoint');
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`^pollpray: app: health check failed after 2 attempts: ${health.url} answered 503, expected 200; rolled back to ${short(good)} \\(fix: .+\\)$`, 'm'),
    );
    expect(current()).toBe(goodRelease);
    expect(world.state('app')).toMatchObject({ deployedSha: good, remoteSha: bad, lastResult: 'failed', rolledBack: true });
    const hist = world.history('app');
    expect(hist.map((h) => [h.result, h.sha, h.rolledBack ?? false])).toEqual([
      ['deployed', good, false],
      ['failed', bad, true],
    ]);
    const status = await world.cli(['status']);
    expect(status.stdout).toMatch(/app: last error: .*health check failed.*rolled back/);
    expect(status.stdout).toMatch(/app: commit [0-9a-f]{12} failed 1 time; next retry at /);
    const historyText = await world.cli(['history', 'app']);
    expect(historyText.stdout).toMatch(/failed \(rolled back\)\s+[0-9a-f]{12}\s+[0-9a-f]{12}\s+\S+\s+Break the health endpoint/);
    expect(world.logText()).toMatch(/\[app\] @[0-9a-f]{12} health: unhealthy \(attempt 2\/2\): .* answered 503/);
    expect(world.logText()).toMatch(/rollback: current -> releases\/.* \(rollback\)/);

    // The fix deploys as soon as it is pushed: a new commit skips the backoff.
    const fix = await origin.commit({ status: 'ok\n' }, 'Fix the health endpoint');
    const fixed = await world.cli(['run']);
    expect(fixed.exitCode, fixed.stderr).toBe(0);
    expect(world.state('app')).toMatchObject({ deployedSha: fix, lastResult: 'deployed', rolledBack: false });
  });

  it('in-place targets roll back an unhealthy commit by resetting and running the script again', async () => {
    const origin = await makeOrigin();
    await origin.commit({ status: 'ok\n' }, 'Healthy');
    const world = makeWorld();
    const path = join(world.dir, 'www', 'app');
    const deploy = world.script('deploy.sh', `echo "$POLLPRAY_NEW_SHA $POLLPRAY_ROLLBACK" >> "${world.dir}/calls.log"`);
    const check = world.script('check.sh', 'grep -qx ok status || { echo "status: $(cat status)"; exit 1; }');
    world.writeConfig({ targets: { app: { repo: origin.url, path, deploy, health: { command: [check], timeout: '1s', retries: 0 } } } });
    expect((await world.cli(['run'])).exitCode).toBe(0);
    const good = await origin.head();
    const bad = await origin.commit({ status: 'down\n' }, 'Break it');
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/app: health check failed after 1 attempt: command exited with 1: status: down; rolled back to/);
    expect(readFileSync(join(path, 'status'), 'utf8')).toBe('ok\n');
    expect(linesOf(join(world.dir, 'calls.log'))).toEqual([`${good} 0`, `${bad} 0`, `${good} 1`]);
    expect(world.state('app')).toMatchObject({ deployedSha: good, rolledBack: true, lastResult: 'failed' });
  });

  describe.skipIf(requireRoot() || requireBinary('sudo'))('with restarts through sudo -n', () => {
    it('restarts the units again after rolling back', async () => {
      const { origin, world, path, current } = await setup();
      const health = await startHealthServer(join(path, 'current', 'status'));
      const systemctl = world.script('systemctl', `echo "$* $(readlink "${path}/current")" >> "${world.dir}/systemctl.log"`);
      world.writeConfig({
        systemctl,
        targets: {
          app: {
            repo: origin.url,
            path,
            strategy: 'releases',
            deploy: join(world.dir, 'deploy.sh'),
            restart: ['app.service'],
            health: { http: health.url, timeout: '1s', retries: 0 },
          },
        },
      });
      expect((await world.cli(['run'])).exitCode).toBe(0);
      const goodRelease = current();
      await origin.commit({ status: 'broken\n' }, 'Break it');
      expect((await world.cli(['run'])).exitCode).toBe(1);
      const restarts = linesOf(join(world.dir, 'systemctl.log'));
      expect(restarts).toHaveLength(3);
      expect(restarts[0]).toBe(`restart app.service ${goodRelease}`);
      expect(restarts[1]).toMatch(/^restart app\.service releases\/.*$/);
      expect(restarts[1]).not.toBe(restarts[0]);
      expect(restarts[2]).toBe(`restart app.service ${goodRelease}`);
      expect(health.hits()).toBe(3);
    });
  });
});
