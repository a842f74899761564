/**
 * Repositories as they come (issue 16, items 5-7): submodules, Git LFS, big repositories
 * (only the tracked ref fetched, partial and shallow clones, sparse paths). Real git,
 * real git-lfs with a file:// LFS store (git-lfs's standalone file transfer), and a real
 * sshd where the target's own key and known_hosts matter.
 */
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOrigin, type Origin } from '../helpers/origin.js';
import { makeWorld } from '../helpers/pollpray-cli.js';
import { requireBinary } from '../helpers/require-env.js';
import { startSshd } from '../helpers/sshd.js';
import { addSubmodule, lfsOrigin, warnings } from '../helpers/repos.js';

const currentDir = (path: string) => join(path, readlinkSync(join(path, 'current')));

async function gitIn(origin: Origin, dir: string, args: string[]): Promise<string> {
  const r = await execa('git', args, { cwd: dir, env: origin.env, extendEnv: false, stdin: 'ignore' });
  return r.stdout.trim();
}

describe('repositories: fetching only what the target tracks', { timeout: 120_000 }, () => {
  it('an in-place clone holds only the tracked branch: no other branch, none of the tags', async () => {
    const origin = await makeOrigin();
    for (let i = 0; i < 25; i++) await origin.git(['tag', `v1.0.${i}`]);
    await origin.git(['push', '-q', 'origin', '--tags']);
    await origin.createBranch('feature');
    const world = makeWorld();
    const path = join(world.dir, 'app');
    world.writeConfig({ targets: { app: { repo: origin.url, path } } });
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    const refs = (await gitIn(origin, path, ['for-each-ref', '--format=%(refname)'])).split('\n').sort();
    expect(refs).toEqual(['refs/heads/main', 'refs/remotes/origin/main']);
  });

  it('a tag target fetches the one tag it deploys, not the default branch or the other tags', async () => {
    const origin = await makeOrigin();
    await origin.git(['tag', 'v1.0.0']);
    await origin.commit({ app: '2\n' }, 'Second');
    await origin.git(['tag', 'v2.0.0']);
    await origin.git(['push', '-q', 'origin', '--tags']);
    const world = makeWorld();
    const path = join(world.dir, 'app');
    world.writeConfig({ targets: { app: { repo: origin.url, path, tags: 'v*' } } });
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    const refs = (await gitIn(origin, path, ['for-each-ref', '--format=%(refname)'])).split('\n').sort();
    expect(refs).toEqual(['refs/tags/v2.0.0']);
  });
});

describe('repositories: submodules', { timeout: 120_000 }, () => {
  for (const strategy of ['in-place', 'releases'] as const) {
    it(`${strategy}: submodules: recursive deploys the submodules' files, nested ones too, and follows a moved submodule`, async () => {
      const origin = await makeOrigin();
      const lib = await makeOrigin();
      const inner = await makeOrigin();
      await inner.commit({ 'inner.txt': 'inner 1\n' }, 'Inner');
      await addSubmodule(lib, inner, 'deps/inner');
      await lib.commit({ 'lib.txt': 'lib 1\n' }, 'Lib');
      await addSubmodule(origin, lib, 'vendor/lib');
      const world = makeWorld();
      const path = join(world.dir, 'app');
      world.writeConfig({ targets: { app: { repo: origin.url, path, strategy, submodules: 'recursive' } } });
      const r1 = await world.cli(['run']);
      expect(r1.exitCode, r1.stderr).toBe(0);
      const tree = strategy === 'releases' ? currentDir(path) : path;
      expect(readFileSync(join(tree, 'vendor/lib/lib.txt'), 'utf8')).toBe('lib 1\n');
      expect(readFileSync(join(tree, 'vendor/lib/deps/inner/inner.txt'), 'utf8')).toBe('inner 1\n');
      expect(warnings(world.logText(), 'submodules')).toEqual([]);
      if (strategy === 'releases') expect(existsSync(join(tree, 'vendor/lib/.git'))).toBe(false);

      // The submodule moves on: the next deploy has the new files and not the old ones.
      await lib.git(['rm', '-q', 'lib.txt']);
      await lib.commit({ 'lib2.txt': 'lib 2\n' }, 'Lib moves');
      await origin.git(['-c', 'protocol.file.allow=always', 'submodule', 'update', '-q', '--remote', 'vendor/lib']);
      await origin.git(['commit', '-q', '-am', 'Bump lib']);
      await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
      const r2 = await world.cli(['run']);
      expect(r2.exitCode, r2.stderr).toBe(0);
      const tree2 = strategy === 'releases' ? currentDir(path) : path;
      expect(readFileSync(join(tree2, 'vendor/lib/lib2.txt'), 'utf8')).toBe('lib 2\n');
      expect(existsSync(join(tree2, 'vendor/lib/lib.txt'))).toBe(false);

      // The submodule is removed: so is its directory (git alone would leave it, it holds files).
      await origin.git(['rm', '-q', 'vendor/lib']);
      await origin.commit({ 'app.txt': 'no lib\n' }, 'Drop lib');
      const r3 = await world.cli(['run']);
      expect(r3.exitCode, r3.stderr).toBe(0);
      const tree3 = strategy === 'releases' ? currentDir(path) : path;
      expect(readFileSync(join(tree3, 'app.txt'), 'utf8')).toBe('no lib\n');
      expect(existsSync(join(tree3, 'vendor/lib'))).toBe(false);
    });
  }

  describe.skipIf(requireBinary('sshd', 'openssh-server'))('over ssh', () => {
    it('submodules are fetched with the target\'s own key and pinned host key; a local-path submodule of an ssh repo is refused', async () => {
      const sshd = await startSshd();
      const origin = await makeOrigin();
      const lib = await makeOrigin();
      await lib.commit({ 'lib.txt': 'from ssh\n' }, 'Lib');
      // Relative URL: resolved against the target's ssh URL, so fetched over ssh too.
      await addSubmodule(origin, lib, 'vendor/lib', `../../${lib.bare.split('/').slice(-2).join('/')}`);
      const world = makeWorld();
      const path = join(world.dir, 'app');
      const target = {
        repo: sshd.repoUrl(origin.bare),
        path,
        strategy: 'releases',
        submodules: 'recursive',
        ssh: { key: sshd.clientKey, known_hosts: sshd.knownHostsFile },
      };
      world.writeConfig({ targets: { app: target } });
      const before = await sshd.acceptedConnections();
      const r1 = await world.cli(['run']);
      expect(r1.exitCode, r1.stderr).toBe(0);
      expect(readFileSync(join(currentDir(path), 'vendor/lib/lib.txt'), 'utf8')).toBe('from ssh\n');
      expect(await sshd.acceptedConnections()).toBeGreaterThan(before);

      await origin.git(['config', '-f', '.gitmodules', 'submodule.vendor/lib.url', lib.bare]);
      await origin.git(['add', '.gitmodules']);
      await origin.commit({ 'app.txt': 'x\n' }, 'Local path submodule');
      const r2 = await world.cli(['run']);
      expect(r2.exitCode).toBe(1);
      expect(r2.stderr).toMatch(/submodule vendor\/lib url .* is a local path, allowed only when the target's own repo is local/);
    });
  });
});

describe.skipIf(requireBinary('git-lfs', 'git-lfs'))('repositories: Git LFS', { timeout: 120_000 }, () => {
  for (const strategy of ['in-place', 'releases'] as const) {
    it(`${strategy}: lfs: true deploys the LFS file's content, not its pointer`, async () => {
      const content = `${'lfs content '.repeat(500)}\n`;
      const origin = await lfsOrigin(content);
      const world = makeWorld();
      const path = join(world.dir, 'app');
      world.writeConfig({ targets: { app: { repo: origin.url, path, strategy, lfs: true } } });
      const r = await world.cli(['run']);
      expect(r.exitCode, r.stderr).toBe(0);
      const tree = strategy === 'releases' ? currentDir(path) : path;
      expect(readFileSync(join(tree, 'big.bin'), 'utf8')).toBe(content);
    });
  }
});

describe.skipIf(requireBinary('sshd', 'openssh-server'))('repositories: partial clone over ssh', { timeout: 120_000 }, () => {
  it('a blob:none clone downloads the deployed files through the target\'s ssh command, at the first and the next deploy', async () => {
    // Forges speak protocol v2 over ssh (GIT_PROTOCOL passed on), which serves blobs by id.
    const sshd = await startSshd({ extraConfig: ['AcceptEnv GIT_PROTOCOL'] });
    const origin = await makeOrigin();
    await origin.git(['config', 'uploadpack.allowFilter', 'true'], origin.bare);
    for (let i = 0; i < 3; i++) await origin.commit({ 'site/index.html': `site v${i}\n`, 'api/server.js': `api v${i}\n` }, `Version ${i}`);
    const world = makeWorld();
    const path = join(world.dir, 'app');
    const target = { repo: sshd.repoUrl(origin.bare), path, clone: { filter: 'blob:none' }, ssh: { key: sshd.clientKey, known_hosts: sshd.knownHostsFile } };
    world.writeConfig({ targets: { app: target } });
    const r1 = await world.cli(['run']);
    expect(r1.exitCode, r1.stderr).toBe(0);
    expect(readFileSync(join(path, 'site/index.html'), 'utf8')).toBe('site v2\n');
    expect(await gitIn(origin, path, ['config', 'remote.origin.promisor'])).toBe('true');
    const missing = (await gitIn(origin, path, ['rev-list', '--objects', '--missing=print', 'HEAD'])).split('\n').filter((l) => l.startsWith('?'));
    expect(missing.length).toBeGreaterThanOrEqual(4);

    await origin.commit({ 'api/server.js': 'api v3\n' }, 'Version 3');
    const r2 = await world.cli(['run']);
    expect(r2.exitCode, r2.stderr).toBe(0);
    expect(readFileSync(join(path, 'api/server.js'), 'utf8')).toBe('api v3\n');
  });

  it('a server that serves no object by id (protocol v0 over ssh) fails a partial clone with the cause, not "damaged"', async () => {
    const sshd = await startSshd();
    const origin = await makeOrigin();
    await origin.git(['config', 'uploadpack.allowFilter', 'true'], origin.bare);
    const world = makeWorld();
    const path = join(world.dir, 'app');
    world.writeConfig({ targets: { app: { repo: sshd.repoUrl(origin.bare), path, clone: { filter: 'blob:none' }, ssh: { key: sshd.clientKey, known_hosts: sshd.knownHostsFile } } } });
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/into the partial clone failed: .*\(fix: the server must serve objects by id/);
    expect(r.stderr).not.toMatch(/damaged/);
  });
});

describe('repositories: partial, shallow and sparse', { timeout: 120_000 }, () => {
  async function historyOrigin(): Promise<Origin> {
    const origin = await makeOrigin();
    await origin.git(['config', 'uploadpack.allowFilter', 'true'], origin.bare);
    for (let i = 0; i < 4; i++) await origin.commit({ 'site/index.html': `site v${i}\n`, 'api/server.js': `api v${i}\n`, 'README.md': `readme v${i}\n` }, `Version ${i}`);
    return origin;
  }

  it('clone.filter blob:none: the mirror has the history but only the deployed commit\'s files', async () => {
    const origin = await historyOrigin();
    const world = makeWorld();
    const path = join(world.dir, 'app');
    world.writeConfig({ targets: { app: { repo: origin.url, path, strategy: 'releases', clone: { filter: 'blob:none' } } } });
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(join(currentDir(path), 'site/index.html'), 'utf8')).toBe('site v3\n');
    const mirror = join(world.stateDir, 'targets', 'app', 'mirror.git');
    const missing = (await gitIn(origin, mirror, ['rev-list', '--objects', '--missing=print', 'refs/heads/main'])).split('\n').filter((l) => l.startsWith('?'));
    // Three older versions of three files were never downloaded.
    expect(missing.length).toBeGreaterThanOrEqual(9);
    expect(await gitIn(origin, mirror, ['rev-list', '--count', 'refs/heads/main'])).toBe('5');
  });

  it('clone.depth 1: the first clone is shallow, and the next deploy still sees the branch move forward', async () => {
    const origin = await historyOrigin();
    const world = makeWorld();
    const path = join(world.dir, 'app');
    world.writeConfig({ targets: { app: { repo: origin.url, path, clone: { depth: 1 }, on_force_push: 'refuse' } } });
    expect((await world.cli(['run'])).exitCode).toBe(0);
    expect(await gitIn(origin, path, ['rev-list', '--count', 'HEAD'])).toBe('1');
    const next = await origin.commit({ 'site/index.html': 'site v4\n' }, 'Version 4');
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(world.state('app')?.deployedSha).toBe(next);
  });

  for (const strategy of ['in-place', 'releases'] as const) {
    it(`${strategy}: paths deploys only those paths of a monorepo`, async () => {
      const origin = await historyOrigin();
      const world = makeWorld();
      const path = join(world.dir, 'app');
      world.writeConfig({ targets: { app: { repo: origin.url, path, strategy, paths: ['site/'] } } });
      const r = await world.cli(['run']);
      expect(r.exitCode, r.stderr).toBe(0);
      const tree = strategy === 'releases' ? currentDir(path) : path;
      expect(readFileSync(join(tree, 'site/index.html'), 'utf8')).toBe('site v3\n');
      expect(existsSync(join(tree, 'api'))).toBe(false);
      expect(existsSync(join(tree, 'README.md'))).toBe(false);
    });
  }
});

describe('repositories: doctor', { timeout: 60_000 }, () => {
  it('doctor fails lfs: true on a host without git-lfs, with the package to install', async () => {
    const world = makeWorld();
    // A PATH with git and node but no git-lfs (git finds its helpers on PATH and in its exec-path).
    const bin = join(world.dir, 'bin');
    mkdirSync(bin);
    symlinkSync('/usr/bin/git', join(bin, 'git'));
    symlinkSync(process.execPath, join(bin, 'node'));
    world.writeConfig({ targets: { app: { repo: 'git@example.com:acme/app.git', path: join(world.dir, 'app'), lfs: true } } });
    const r = await world.cli(['doctor'], { env: { PATH: bin } });
    expect(`${r.stdout}${r.stderr}`).toMatch(/git-lfs.*lfs: true on app, but git-lfs is not installed.*\n?.*apt-get install git-lfs/);
    const ok = await world.cli(['doctor']);
    expect(ok.stdout).toMatch(/git-lfs\/\d/);
  });
});
