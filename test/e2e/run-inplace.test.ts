import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOrigin } from '../helpers/origin.js';
import { linesOf, makeWorld, pidFile, processGone, until, type World } from '../helpers/pollpray-cli.js';

/** A deploy script that appends "OLD NEW BRANCH TARGET cwd" to calls.log beside the world. */
function recordingScript(world: World, extra = ''): string {
  return world.script(
    'deploy.sh',
    `echo "$POLLPRAY_OLD_SHA $POLLPRAY_NEW_SHA $POLLPRAY_BRANCH $POLLPRAY_TARGET $PWD" >> "${world.dir}/calls.log"\n${extra}`,
  );
}

function calls(world: World): string[][] {
  const file = join(world.dir, 'calls.log');
  return linesOf(file).map((l) => l.split(' '));
}

function headOf(path: string): string {
  return execFileSync('git', ['-C', path, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
}

async function setup(opts: { script?: string; timeout?: string; extra?: Record<string, unknown> } = {}) {
  const origin = await makeOrigin();
  const world = makeWorld();
  const path = join(world.dir, 'www', 'app');
  const deploy = recordingScript(world, opts.script ?? '');
  world.writeConfig({
    targets: {
      app: { repo: origin.url, branch: 'main', path, deploy, deploy_timeout: opts.timeout ?? '1m', ...opts.extra },
    },
  });
  return { origin, world, path };
}

describe('pollpray run, in-place strategy', () => {
  it('first deploy clones the branch head and runs the script in the checkout', async () => {
    const { origin, world, path } = await setup();
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toBe(''); // non-TTY and healthy: silent for cron
    const head = await origin.head();
    expect(headOf(path)).toBe(head);
    expect(calls(world)).toEqual([['', head, 'main', 'app', path]]);
    expect(world.state('app')).toMatchObject({ deployedSha: head, lastResult: 'deployed', lastError: null });
  });

  it('the deploy script reads the commit subject from POLLPRAY_SUBJECT, as text', async () => {
    const { origin, world } = await setup({ script: `printf '%s\\n' "$POLLPRAY_SUBJECT" > "$POLLPRAY_REPO_DIR/../subject.txt"` });
    await origin.commit({ 'a.txt': '1\n' }, 'release $(touch pwned) `id`');
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(join(world.dir, 'www', 'subject.txt'), 'utf8')).toBe('release $(touch pwned) `id`\n');
    expect(existsSync(join(world.dir, 'www', 'app', 'pwned'))).toBe(false);
  });

  it('a target whose state cannot be read fails alone; the other targets still deploy', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const deploy = recordingScript(world);
    world.writeConfig({
      targets: {
        broken: { repo: origin.url, branch: 'main', path: join(world.dir, 'www', 'broken'), deploy },
        good: { repo: origin.url, branch: 'main', path: join(world.dir, 'www', 'good'), deploy },
      },
    });
    // A directory where broken's state.json should be: reading it fails (EISDIR), as root too.
    mkdirSync(join(world.stateDir, 'targets', 'broken', 'state.json'), { recursive: true });
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/broken: .*state\.json/);
    expect(world.state('good')).toMatchObject({ deployedSha: await origin.head(), lastResult: 'deployed' });
    expect(existsSync(join(world.dir, 'www', 'broken'))).toBe(false);
  });

  it('an unchanged remote runs neither fetch nor the script', async () => {
    const { world } = await setup();
    await world.cli(['run']);
    const logBefore = world.logText().length;
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(0);
    expect(calls(world)).toHaveLength(1);
    const secondRunLog = world.logText().slice(logBefore);
    expect(secondRunLog).toMatch(/exec git .* ls-remote/);
    expect(secondRunLog).not.toMatch(/ fetch | clone /);
    expect(world.state('app')).toMatchObject({ lastResult: 'unchanged' });
  });

  it('a new commit deploys exactly once with the right old and new commit', async () => {
    const { origin, world, path } = await setup();
    await world.cli(['run']);
    const first = await origin.head();
    const second = await origin.commit({ 'app.txt': 'v2\n' }, 'Second version');
    expect((await world.cli(['run'])).exitCode).toBe(0);
    expect((await world.cli(['run'])).exitCode).toBe(0);
    expect(calls(world).map((c) => [c[0], c[1]])).toEqual([['', first], [first, second]]);
    expect(readFileSync(join(path, 'app.txt'), 'utf8')).toBe('v2\n');
    const history = world.history('app');
    expect(history.map((h) => [h.result, h.sha, h.previousSha])).toEqual([
      ['deployed', first, null],
      ['deployed', second, first],
    ]);
    expect(history[1]?.subject).toBe('Second version');
  });

  it('a force-pushed branch ends on the exact remote commit', async () => {
    const { origin, world, path } = await setup();
    const first = await origin.head();
    await origin.commit({ 'a.txt': 'a\n' }, 'a');
    await world.cli(['run']);
    await origin.forcePushTo(first);
    const rewritten = await origin.commit({ 'b.txt': 'b\n' }, 'b instead of a');
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(headOf(path)).toBe(rewritten);
    expect(existsSync(join(path, 'a.txt'))).toBe(false);
    expect(world.logText()).toMatch(/history rewritten/);
  });

  it('local edits in the checkout are discarded by the next deploy', async () => {
    const { origin, world, path } = await setup();
    await world.cli(['run']);
    writeFileSync(join(path, 'README'), 'edited on the server\n');
    const next = await origin.commit({ 'x.txt': 'x\n' }, 'next');
    expect((await world.cli(['run'])).exitCode).toBe(0);
    expect(headOf(path)).toBe(next);
    expect(readFileSync(join(path, 'README'), 'utf8')).not.toContain('edited on the server');
  });

  it('a failing script exits 1, records the failure and rolls back to the previous deployed commit', async () => {
    const { origin, world } = await setup({ script: '[ -f fail ] && { echo "migration broke" >&2; exit 3; }; exit 0' });
    await world.cli(['run']);
    const good = await origin.head();
    const bad = await origin.commit({ fail: '' }, 'breaks the deploy');
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^pollpray: app: deploy script exited with 3: migration broke; rolled back to [0-9a-f]{12} \(fix: .+\)$/m);
    expect(world.state('app')).toMatchObject({ deployedSha: good, lastResult: 'failed', remoteSha: bad, rolledBack: true });
    // in-place rolls back by resetting to the good commit and running the script again
    expect(headOf(join(world.dir, 'www', 'app'))).toBe(good);
    expect(calls(world).map((c) => c[1])).toEqual([good, bad, good]);
    expect(world.history('app').at(-1)).toMatchObject({ result: 'failed', sha: bad, previousSha: good });
  });

  it('a hanging script is killed together with its child at deploy_timeout', async () => {
    const { world } = await setup({
      timeout: '1s',
      script: `sleep 600 & echo $! > "${'$'}{POLLPRAY_REPO_DIR}/../child.pid"; echo $$ > "${'$'}{POLLPRAY_REPO_DIR}/../script.pid"; sleep 600`,
    });
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/app: deploy script timed out after 1\.0s and was killed with its children/);
    expect(r.durationMs).toBeLessThan(15_000);
    const child = await pidFile(join(world.dir, 'www', 'child.pid'));
    const script = await pidFile(join(world.dir, 'www', 'script.pid'));
    await until(() => processGone(child) && processGone(script), 5000, 'script and child to die');
  });

  it('--dry-run says what would happen and changes nothing', async () => {
    const { world, path } = await setup();
    const r = await world.cli(['run', '--dry-run']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/app: would deploy [0-9a-f]{12} \(was none, first-deploy\)/);
    expect(existsSync(path)).toBe(false);
    expect(world.state('app')).toBeUndefined();
    expect(calls(world)).toEqual([]);
  });

  it('--force redeploys the current head', async () => {
    const { world } = await setup();
    await world.cli(['run']);
    expect((await world.cli(['run', '--force'])).exitCode).toBe(0);
    expect(calls(world)).toHaveLength(2);
  });

  it('log files are date-stamped and old ones are removed past retention', async () => {
    const { world } = await setup({});
    world.writeConfig({
      log: { dir: world.logDir, level: 'info', retention: '3d' },
      targets: { app: { repo: 'file:///nonexistent.git', path: join(world.dir, 'x') } },
    });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(world.logDir, { recursive: true });
    writeFileSync(join(world.logDir, 'pollpray-2020-01-01.log.gz'), 'old');
    writeFileSync(join(world.logDir, 'unrelated.txt'), 'keep me');
    await world.cli(['run']);
    const today = new Date().toISOString().slice(0, 10);
    const files = readdirSync(world.logDir);
    expect(files).toContain(`pollpray-${today}.log`);
    expect(files).not.toContain('pollpray-2020-01-01.log.gz');
    expect(files).toContain('unrelated.txt');
  });

  it('status --json matches the state', async () => {
    const { origin, world, path } = await setup();
    await world.cli(['run']);
    const r = await world.cli(['status', '--json']);
    expect(r.exitCode).toBe(0);
    const head = await origin.head();
    expect(JSON.parse(r.stdout)).toMatchObject({
      version: 1,
      targets: [
        {
          target: 'app',
          branch: 'main',
          path,
          deployed_commit: head,
          last_result: 'deployed',
          last_error: null,
          paused: false,
        },
      ],
    });
  });
});
