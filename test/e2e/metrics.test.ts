import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOrigin } from '../helpers/origin.js';
import { makeWorld } from '../helpers/pollpray-cli.js';
import { parsePromText } from '../helpers/prom-text.js';

function readFd(fd: number): string {
  const buf = Buffer.alloc(1 << 16);
  const n = readSync(fd, buf, 0, buf.length, 0);
  return buf.subarray(0, n).toString('utf8');
}

describe('metrics_file', () => {
  it('is a strict Prometheus textfile after each run, counters survive runs, and it is replaced atomically', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const textfileDir = join(world.dir, 'textfile');
    const metricsFile = join(textfileDir, 'pollpray.prom');
    const deploy = world.script('deploy.sh', 'exit 0');
    world.writeConfig({
      metrics_file: metricsFile,
      targets: {
        app: { repo: origin.url, path: join(world.dir, 'www', 'app'), deploy },
        gone: { repo: `file://${world.dir}/missing.git`, path: join(world.dir, 'www', 'gone') },
      },
    });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(textfileDir);

    expect((await world.cli(['run'])).exitCode).toBe(1); // gone fails to reach its remote
    const firstText = readFileSync(metricsFile, 'utf8');
    const first = parsePromText(firstText);
    const sample = (families: typeof first, name: string, labels: Record<string, string> = {}) =>
      families.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    const head1 = await origin.head();
    expect(first.get('pollpray_deployed_commit_info')?.samples).toEqual([
      { name: 'pollpray_deployed_commit_info', labels: { target: 'app', branch: 'main', commit: head1 }, value: 1 },
    ]);
    expect(sample(first, 'pollpray_deploys_total', { target: 'app', result: 'deployed' })).toBe(1);
    expect(sample(first, 'pollpray_target_failing', { target: 'gone' })).toBe(1);
    expect(sample(first, 'pollpray_last_check_timestamp_seconds', { target: 'gone' })).toBeGreaterThan(Date.now() / 1000 - 120);
    expect(sample(first, 'pollpray_last_success_timestamp_seconds', { target: 'gone' })).toBeUndefined();
    expect(sample(first, 'pollpray_deploy_duration_seconds', { target: 'app' })).toBeGreaterThan(0);
    expect(sample(first, 'pollpray_run_duration_seconds')).toBeGreaterThan(0);
    expect(statSync(metricsFile).mode & 0o777).toBe(0o644);

    // Hold the first file open: an atomic replacement gives the path a new inode and
    // leaves what a reader already opened whole, where an in-place rewrite would not.
    const fd = openSync(metricsFile, 'r');
    const inodeBefore = statSync(metricsFile).ino;
    try {
      const head2 = await origin.commit({ 'v2.txt': '2\n' }, 'second');
      await world.cli(['run', 'app']); // one target: the file still covers every target
      const second = parsePromText(readFileSync(metricsFile, 'utf8'));
      expect(statSync(metricsFile).ino).not.toBe(inodeBefore);
      expect(readFd(fd)).toBe(firstText);
      expect(sample(second, 'pollpray_deploys_total', { target: 'app', result: 'deployed' })).toBe(2);
      expect(sample(second, 'pollpray_deployed_commit_info', { commit: head2 })).toBe(1);
      expect(sample(second, 'pollpray_target_failing', { target: 'gone' })).toBe(1);
    } finally {
      closeSync(fd);
    }
    // no temp file left behind, and none named *.prom at any time
    expect(readdirSync(textfileDir)).toEqual(['pollpray.prom']);
  });

  it('an unwritable metrics directory is logged and does not fail the run', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    world.writeConfig({
      metrics_file: join(world.dir, 'no-such-dir', 'pollpray.prom'),
      targets: { app: { repo: origin.url, path: join(world.dir, 'www', 'app') } },
    });
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(world.logText()).toMatch(/ERROR metrics: metrics file \S+pollpray\.prom not written: ENOENT/);
  });
});
