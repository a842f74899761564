/**
 * The README's install step, exactly: `npm pack` (which builds dist/ through `prepare`),
 * then `npm install -g` of that tarball (here into a temp prefix), then the installed
 * `pollpray` on its own. A file missing from package.json `files` fails here.
 *
 * npm pack runs in a copy of the sources, so its build never rewrites the dist/ the
 * other tests are running; the dependencies come from npm's cache (npm ci filled it).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it, onTestFinished } from 'vitest';
import { requireBinary } from '../helpers/require-env.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** What a checkout of the repository holds that npm pack needs (dist/ is built, not copied). */
const SOURCES = ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'scripts', 'bin', 'src', 'schema', 'examples', 'deploy-scripts'];

describe.skipIf(requireBinary('npm'))('install from a packed tarball (README "Set up a real target", step 1)', { timeout: 180_000 }, () => {
  it('npm pack, then npm install -g of the tarball: the installed pollpray prints its version and runs the demo', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'pollpray-install-'));
    onTestFinished(() => rmSync(tmp, { recursive: true, force: true }));
    const src = join(tmp, 'src');
    for (const name of SOURCES) cpSync(join(ROOT, name), join(src, name), { recursive: true });
    // tsc for prepare's build; the installed package gets its own dependencies below.
    symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'));
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

    const npm = (args: string[], cwd: string) => execa('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, reject: false, env: { ...process.env, npm_config_update_notifier: 'false' } });
    const pack = await npm(['pack', '--pack-destination', tmp], src);
    expect(pack.exitCode, pack.stderr).toBe(0);
    const tarball = join(tmp, `pollpray-${version}.tgz`);
    expect(pack.stdout.trim().split('\n').pop()).toBe(`pollpray-${version}.tgz`);

    const prefix = join(tmp, 'prefix');
    // As the README's step 1: the tarball is already built, so no install script is run.
    const install = await npm(['install', '-g', '--ignore-scripts', '--prefix', prefix, '--prefer-offline', tarball], tmp);
    expect(install.exitCode, install.stderr).toBe(0);

    const pollpray = join(prefix, 'bin', 'pollpray');
    const home = join(tmp, 'home');
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, GIT_CONFIG_NOSYSTEM: '1' };
    const v = await execa(pollpray, ['--version'], { cwd: tmp, env, extendEnv: false, reject: false });
    expect(v.exitCode, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe(version);

    const demo = await execa(pollpray, ['demo'], { cwd: tmp, env, extendEnv: false, reject: false, timeout: 60_000 });
    expect(demo.exitCode, `${demo.stdout}\n${demo.stderr}`).toBe(0);
    expect(demo.stdout).toMatch(/deployed/);
    // pollpray tunes V8 (src/main.ts); a flag this Node does not know would print here on every command.
    expect(demo.stderr).not.toMatch(/unrecognized flag/);
  });
});
