import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { makeWorld } from '../helpers/pollpray-cli.js';

it('pollpray demo deploys, polls unchanged, deploys the pushed commit, and cleans up', async () => {
  const world = makeWorld();
  const r = await world.cli(['demo'], { env: { POLLPRAY_CONFIG: '' } });
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  expect(r.stdout).toMatch(/site: deployed [0-9a-f]{12} \(was -\)/);
  expect(r.stdout).toMatch(/site: up to date at [0-9a-f]{12}/);
  expect(r.stdout).toMatch(/site: deployed [0-9a-f]{12} \(was [0-9a-f]{12}\)/);
  expect(r.stdout).toMatch(/serves: <h1>hello, v2<\/h1>/);
  expect(r.stdout).toMatch(/site +main +[0-9a-f]{12} +deployed/);
  const dir = /In (\S+): a bare repo/.exec(r.stdout)?.[1];
  expect(dir).toBeTruthy();
  expect(existsSync(dir as string)).toBe(false);
});

it('pollpray demo --keep leaves a config that status can read', async () => {
  const world = makeWorld();
  const r = await world.cli(['demo', '--keep'], { env: { POLLPRAY_CONFIG: '' } });
  expect(r.exitCode).toBe(0);
  const dir = /Kept (\S+) /.exec(r.stdout)?.[1] as string;
  const { rmSync } = await import('node:fs');
  try {
    const status = await world.cli(['status', '--json', '--config', `${dir}/pollpray.yaml`]);
    expect(JSON.parse(status.stdout).targets[0]).toMatchObject({ target: 'site', last_result: 'deployed' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
