import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOrigin } from '../helpers/origin.js';
import { linesOf, makeWorld, until } from '../helpers/pollpray-cli.js';

/** A target whose deploy script records each deployed sha and takes `seconds`. */
async function daemonWorld(seconds: number, schedule: string) {
  const origin = await makeOrigin();
  const world = makeWorld();
  const deploy = world.script('deploy.sh', `echo "start $POLLPRAY_NEW_SHA" >> "${world.dir}/calls.log"; sleep ${seconds}; echo "end $POLLPRAY_NEW_SHA" >> "${world.dir}/calls.log"`);
  const config = { schedule, targets: { app: { repo: origin.url, path: join(world.dir, 'www', 'app'), deploy } } };
  world.writeConfig(config);
  const calls = () => linesOf(join(world.dir, 'calls.log'));
  return { origin, world, calls, config };
}

function collect(stream: NodeJS.ReadableStream | null | undefined): () => string {
  let text = '';
  stream?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return () => text;
}

describe('pollpray daemon', () => {
  it('on SIGTERM during a slow deploy lets it finish, records it, and exits 0', async () => {
    const { origin, world, calls } = await daemonWorld(2, '0 0 1 1 *');
    const daemon = world.spawn(['daemon', '--run-now', '--grace', '30s']);
    const stdout = collect(daemon.stdout);
    await until(() => calls().length === 1, 15_000, 'the deploy script to start');
    daemon.kill('SIGTERM');
    const r = await daemon;
    const sha = await origin.head();
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(calls()).toEqual([`start ${sha}`, `end ${sha}`]);
    expect(world.state('app')).toMatchObject({ deployedSha: sha, lastResult: 'deployed' });
    expect(stdout()).toMatch(/SIGTERM: no new cycles; waiting up to 30s for the running one to finish/);
    expect(world.logText()).toMatch(/daemon stopped after 1 cycle\(s\)/);
  });

  it('on SIGHUP with a broken config keeps running on the old one, and says why', async () => {
    const { origin, world, calls, config } = await daemonWorld(0, '* * * * * *');
    const daemon = world.spawn(['daemon']);
    const stderr = collect(daemon.stderr);
    const first = await origin.head();
    await until(() => calls().includes(`end ${first}`), 15_000, 'the first scheduled deploy');

    writeFileSync(world.configFile, 'targets:\n  app:\n    repo: [not, a, url]\n');
    daemon.kill('SIGHUP');
    await until(() => /config reload failed, keeping the running config/.test(stderr()), 10_000, 'the reload to be refused');
    expect(stderr()).toMatch(/pollpray\.yaml:3 targets\.app\.repo/);

    // Still polling with the old config: a new commit is deployed by the next tick.
    const second = await origin.commit({ 'b.txt': 'b' }, 'second');
    await until(() => calls().includes(`end ${second}`), 15_000, 'the daemon to deploy the new commit');
    expect(world.logText()).toMatch(/ERROR .*reload: config reload failed, keeping the running config/);

    // A valid config is picked up by the next SIGHUP.
    world.writeConfig({ ...config, concurrency: 2 });
    daemon.kill('SIGHUP');
    await until(() => /config reloaded: 1 target\(s\)/.test(world.logText()), 10_000, 'the valid config to be loaded');
    daemon.kill('SIGINT');
    const r = await daemon;
    expect(r.exitCode).toBe(0);
  });
});
