import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOrigin } from '../helpers/origin.js';
import { linesOf, makeWorld, pidFile, processGone, until } from '../helpers/pollpray-cli.js';

/** The deploy script holds the run until the test creates `release` (or `seconds` pass). */
async function slowTarget(seconds: number) {
  const origin = await makeOrigin();
  const world = makeWorld();
  const deploy = world.script(
    'deploy.sh',
    `echo $$ > "${world.dir}/script.pid"; echo "$POLLPRAY_NEW_SHA" >> "${world.dir}/calls.log"
for i in $(seq ${seconds * 10}); do [ -e "${world.dir}/release" ] && exit 0; sleep 0.1; done`,
  );
  world.writeConfig({ targets: { app: { repo: origin.url, path: join(world.dir, 'www', 'app'), deploy } } });
  const calls = () => linesOf(join(world.dir, 'calls.log'));
  return { origin, world, calls };
}

describe('the per-target lock', () => {
  it('two overlapping runs deploy once; the other skips and exits 0', async () => {
    const { world, calls } = await slowTarget(30);
    const first = world.spawn(['run']);
    await until(() => calls().length === 1, 15_000, 'the first run to start its script');
    const second = await world.cli(['run', 'app']);
    writeFileSync(join(world.dir, 'release'), '');
    expect(second.exitCode).toBe(0);
    expect(second.stderr).toBe('');
    writeFileSync(join(world.dir, 'go'), '');
    const firstResult = await first;
    expect(firstResult.exitCode).toBe(0);
    expect(calls()).toHaveLength(1);
    expect(world.logText()).toMatch(/\[app\] lock: skipped: run in progress/);
  });

  it('after kill -9 of a run mid-deploy, the next run proceeds at once and deploys', async () => {
    const { origin, world, calls } = await slowTarget(30);
    const victim = world.spawn(['run']);
    await until(() => calls().length === 1, 15_000, 'the script to start');
    // pollpray records the script's group just after spawning it; the script can get
    // this far first, and a run killed before that record has nothing to hand on.
    await until(() => existsSync(join(world.stateDir, 'targets', 'app', 'running.pgid')), 5000, 'the run to record its script');
    const scriptPid = await pidFile(join(world.dir, 'script.pid'));
    victim.kill('SIGKILL');
    await victim;

    // The rerun must not wait for the orphaned script, and must not leave it running.
    world.writeConfig({
      targets: { app: { repo: origin.url, path: join(world.dir, 'www', 'app'), deploy: world.script('quick.sh', 'exit 0') } },
    });
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.durationMs).toBeLessThan(10_000);
    expect(world.state('app')).toMatchObject({ deployedSha: await origin.head(), lastResult: 'deployed' });
    await until(() => processGone(scriptPid), 5000, 'the orphaned script of the killed run to be ended');
  });
});
