import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOrigin, type Origin } from '../helpers/origin.js';
import { makeWorld, until } from '../helpers/pollpray-cli.js';

function headOf(path: string): string {
  return execFileSync('git', ['-C', path, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
}

async function tag(origin: Origin, name: string, sha: string, annotated = false): Promise<void> {
  await origin.git(annotated ? ['tag', '-a', name, '-m', `Release ${name}`, sha] : ['tag', name, sha]);
  await origin.git(['push', '-q', 'origin', `refs/tags/${name}`]);
}

describe('pollpray run, tag tracking', () => {
  it('deploys the newest tag in the range, peeled to its commit, and moves on when a newer one is pushed', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const v1 = await origin.commit({ 'app.txt': '1.0\n' }, 'One');
    const v19 = await origin.commit({ 'app.txt': '1.9\n' }, 'One nine');
    const v110 = await origin.commit({ 'app.txt': '1.10\n' }, 'One ten');
    const v2rc = await origin.commit({ 'app.txt': '2.0-rc\n' }, 'Two rc');
    await origin.commit({ 'app.txt': 'unreleased\n' }, 'Work in progress');
    await tag(origin, 'v1.0.0', v1);
    await tag(origin, 'v1.9.0', v19, true);
    await tag(origin, 'v1.10.0', v110, true); // a string sort would pick v1.9.0
    await tag(origin, 'v2.0.0-rc.1', v2rc);
    const path = join(world.dir, 'www', 'prod');
    const deploy = world.script('deploy.sh', `echo "$POLLPRAY_TAG $POLLPRAY_NEW_SHA" >> "${world.dir}/calls.log"`);
    world.writeConfig({ targets: { prod: { repo: origin.url, tags: '>=1.0.0 <2', path, deploy } } });

    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(headOf(path)).toBe(v110);
    expect(world.state('prod')).toMatchObject({ deployedSha: v110, lastResult: 'deployed' });
    const status = await world.cli(['status', '--json']);
    expect(JSON.parse(status.stdout).targets[0]).toMatchObject({ target: 'prod', branch: null, tags: '>=1.0.0 <2', deployed_commit: v110 });

    const v111 = await origin.commit({ 'app.txt': '1.11\n' }, 'One eleven');
    await tag(origin, 'v1.11.0', v111, true);
    expect((await world.cli(['run'])).exitCode).toBe(0);
    expect(headOf(path)).toBe(v111);
    expect(execFileSync('cat', [join(world.dir, 'calls.log')], { encoding: 'utf8' })).toBe(`v1.10.0 ${v110}\nv1.11.0 ${v111}\n`);
  });

  it('a tag pattern nothing matches fails with the fix, and keeps nothing half-done', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const path = join(world.dir, 'www', 'prod');
    world.writeConfig({ targets: { prod: { repo: origin.url, tags: 'v*', path } } });
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/prod: no tag on .* matches tags: "v\*" \(fix: push a version tag/);
    expect(existsSync(path)).toBe(false);
  });

  it('rejects a target that sets both branch and tags', async () => {
    const world = makeWorld();
    world.writeConfig({ targets: { prod: { repo: 'file:///nowhere.git', branch: 'main', tags: 'v*', path: '/srv/prod' } } });
    const r = await world.cli(['validate']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/targets\.prod\.tags.*either branch or tags/);
  });

  it('staging on main and production on v* tags of one repo never block each other', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const released = await origin.commit({ 'app.txt': 'released\n' }, 'Release');
    await tag(origin, 'v1.0.0', released, true);
    const head = await origin.commit({ 'app.txt': 'next\n' }, 'Next');
    const started = join(world.dir, 'staging-started');
    const release = join(world.dir, 'staging-may-finish');
    // Staging's script holds its run (and lock) until the test lets it go.
    const slow = world.script('slow.sh', `touch "${started}"\nwhile [ ! -e "${release}" ]; do sleep 0.05; done`);
    world.writeConfig({
      targets: {
        staging: { repo: origin.url, branch: 'main', path: join(world.dir, 'staging'), deploy: slow, deploy_timeout: '30s' },
        production: { repo: origin.url, tags: 'v*', path: join(world.dir, 'production') },
      },
    });
    const stagingRun = world.spawn(['run', 'staging']);
    await until(() => existsSync(started), 20_000, 'staging deploy to start');
    const prod = await world.cli(['run', 'production']);
    expect(prod.exitCode, prod.stderr).toBe(0);
    expect(world.state('production')).toMatchObject({ deployedSha: released, lastResult: 'deployed' });
    // While staging is busy, another run of staging is the one that is skipped.
    const again = await world.cli(['run', 'staging', '--dry-run']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/staging: skipped \(another run holds the lock\)/);
    writeFileSync(release, '');
    expect((await stagingRun).exitCode).toBe(0);
    expect(world.state('staging')).toMatchObject({ deployedSha: head, lastResult: 'deployed' });
    expect(headOf(join(world.dir, 'production'))).toBe(released);
  });
});
