import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { makeOrigin } from '../helpers/origin.js';
import { BIN, makeWorld } from '../helpers/pollpray-cli.js';

const mode = (p: string) => (lstatSync(p).mode & 0o7777).toString(8);

/** Faults of the host's set-up (README "Set up a real target"), rows 27 and up of the failure-modes table. */
describe('host set-up faults', { timeout: 60_000 }, () => {
  it('#27 permissive umask or a run as root: a release has 0644 files and 0755 directories, never group-writable ones', async () => {
    const origin = await makeOrigin();
    await origin.commit({ 'app/views.py': 'print(1)\n', 'static/site.css': 'body{}\n', 'bin/manage': '#!/bin/sh\n' }, 'App files', { executable: ['bin/manage'] });
    const world = makeWorld();
    const path = join(world.dir, 'www', 'app');
    world.writeConfig({ targets: { app: { repo: origin.url, path, strategy: 'releases' } } });
    // The caller's umask must not decide the modes: run pollpray under a permissive one.
    const r = await execa('/bin/sh', ['-c', 'umask 002 && exec "$@"', 'sh', 'node', BIN, 'run'], {
      cwd: world.dir,
      env: { ...process.env, ...world.env },
      reject: false,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const [release] = readdirSync(join(path, 'releases'));
    const dir = join(path, 'releases', release ?? '');
    expect({
      release: mode(dir),
      appDir: mode(join(dir, 'app')),
      file: mode(join(dir, 'app', 'views.py')),
      css: mode(join(dir, 'static', 'site.css')),
      executable: mode(join(dir, 'bin', 'manage')),
    }).toEqual({ release: '755', appDir: '755', file: '644', css: '644', executable: '755' });
  });
});
