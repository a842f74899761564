/**
 * Repositories as they come (rows 43-46, 85, 90, 91, 103): submodules, Git LFS, a first clone slower
 * than git_timeout. Real git, real git-lfs, a real sshd.
 */
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOrigin, type Origin } from '../helpers/origin.js';
import { BIN, makeWorld } from '../helpers/pollpray-cli.js';
import { requireBinary } from '../helpers/require-env.js';
import { startSshd } from '../helpers/sshd.js';
import { addSubmodule, lfsOrigin, lfsOriginElsewhere, warnings } from '../helpers/repos.js';
import { startReceiver } from '../helpers/http-receiver.js';
import { startLfsHttp } from '../helpers/lfs-http.js';
import { startGitHttp } from '../helpers/git-http.js';

/** A target with `lfs: true` that deployed an LFS commit: what the .lfsconfig tests start from. */
async function deployedLfsTarget(extra: Record<string, unknown> = {}) {
  const origin = await lfsOrigin('first\n'.repeat(300));
  const world = makeWorld();
  const path = join(world.dir, 'app');
  world.writeConfig({ targets: { app: { repo: origin.url, path, lfs: true, ...extra } } });
  expect((await world.cli(['run'])).exitCode).toBe(0);
  return { origin, world, path, deployed: await origin.head() };
}

const noSshKeygen = requireBinary('ssh-keygen', 'openssh-client');

/** Has `origin` sign its commits with a new ssh key; returns the allowed_signers file that trusts it. */
async function signCommits(origin: Origin, dir: string): Promise<string> {
  const key = join(dir, 'release_ed25519');
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'release', '-f', key]);
  const pub = (await execa('ssh-keygen', ['-y', '-f', key])).stdout.trim();
  const allowed = join(dir, 'allowed_signers');
  writeFileSync(allowed, `release@pollpray.invalid namespaces="git" ${pub}\n`);
  for (const [k, v] of [['gpg.format', 'ssh'], ['user.signingkey', key], ['commit.gpgsign', 'true']]) await origin.git(['config', k, v]);
  return allowed;
}

describe('repository faults', { timeout: 120_000 }, () => {
  it('#43 a commit with submodules and no submodules: recursive: deployed, with one warning naming them', async () => {
    const origin = await makeOrigin();
    const lib = await makeOrigin();
    const theme = await makeOrigin();
    await addSubmodule(origin, lib, 'vendor/lib');
    await addSubmodule(origin, theme, 'themes/ananke');
    const world = makeWorld();
    const path = join(world.dir, 'app');
    world.writeConfig({ targets: { app: { repo: origin.url, path } } });
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(join(path, 'vendor', 'lib'))).toEqual([]);
    const warned = warnings(world.logText(), 'submodules');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toContain('vendor/lib');
    expect(warned[0]).toContain('themes/ananke');
    expect(warned[0]).toContain('submodules: recursive');
  });

  it('#44 a submodule URL using ext:: (or a local path for an ssh repo): refused before anything goes live; its command never runs', async () => {
    const origin = await makeOrigin();
    const lib = await makeOrigin();
    await addSubmodule(origin, lib, 'vendor/lib');
    const world = makeWorld();
    const path = join(world.dir, 'app');
    world.writeConfig({ targets: { app: { repo: origin.url, path, submodules: 'recursive' } } });
    expect((await world.cli(['run'])).exitCode).toBe(0);
    const deployed = await origin.head();
    const pwned = join(world.dir, 'pwned');
    await origin.git(['config', '-f', '.gitmodules', 'submodule.vendor/lib.url', `ext::sh -c touch% ${pwned}`]);
    await origin.git(['add', '.gitmodules']);
    await origin.commit({ 'app.txt': 'new\n' }, 'Point the submodule at ext::');
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/submodule vendor\/lib url ext::.*remote helper/);
    expect(existsSync(pwned)).toBe(false);
    expect(existsSync(join(path, 'app.txt'))).toBe(false);
    expect(world.state('app')?.deployedSha).toBe(deployed);
  });

  it('#91 a submodule URL of 200 KiB: the refusal quotes it cut short, and the command notification of the failure is delivered', async () => {
    const origin = await makeOrigin();
    const lib = await makeOrigin();
    await addSubmodule(origin, lib, 'vendor/lib');
    const world = makeWorld();
    const path = join(world.dir, 'app');
    const notified = join(world.dir, 'notified.txt');
    const notifier = world.script('notify.sh', `printf '%s\\n' "$POLLPRAY_EVENT \${#POLLPRAY_MESSAGE}" >> "${notified}"`);
    world.writeConfig({ notify: [{ command: [notifier], on: ['failed'], timeout: '5s' }], targets: { app: { repo: origin.url, path, submodules: 'recursive' } } });
    // Written into the file: on git config's command line it would hit the same kernel limit.
    const gitmodules = readFileSync(join(origin.work, '.gitmodules'), 'utf8').replace(/url = .*/, `url = ext::${'x'.repeat(200 * 1024)}`);
    await origin.commit({ '.gitmodules': gitmodules, 'app.txt': 'new\n' }, 'A submodule URL of 200 KiB');
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^pollpray: app: submodule vendor\/lib url ext::x+….* \(fix: .*\)$/m);
    expect(r.stderr.length).toBeLessThan(4000);
    expect(readFileSync(notified, 'utf8')).toMatch(/^failed \d{3,4}\n$/);
    expect(JSON.stringify(world.state('app')).length).toBeLessThan(5000);
  });

  it.skipIf(noSshKeygen)('#90 verify with submodules: an unsigned commit\'s submodule URLs are never contacted, its submodules never fetched', async () => {
    const origin = await makeOrigin();
    const lib = await makeOrigin();
    const world = makeWorld();
    const allowed = await signCommits(origin, world.dir);
    await addSubmodule(origin, lib, 'vendor/lib');
    const path = join(world.dir, 'app');
    world.writeConfig({ targets: { app: { repo: origin.url, path, submodules: 'recursive', verify: { mode: 'ssh', allowed_signers: allowed } } } });
    const first = await world.cli(['run']);
    expect(first.exitCode, first.stderr).toBe(0);
    const signed = await origin.head();

    // Whoever pushes without the key points the submodule at a server of theirs.
    const server = await startReceiver();
    await origin.git(['config', 'commit.gpgsign', 'false']);
    await origin.git(['config', '-f', '.gitmodules', 'submodule.vendor/lib.url', `${server.url}/theirs.git`]);
    await origin.git(['add', '.gitmodules']);
    await origin.commit({ 'app.txt': 'unsigned\n' }, 'Unsigned, with a submodule elsewhere');
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/unverified: commit \w{12} is not signed/);
    expect(server.requests).toEqual([]);
    expect(world.state('app')?.deployedSha).toBe(signed);
    expect(existsSync(join(path, 'app.txt'))).toBe(false);
  });

  it('#85 a .gitmodules that includes other config files (a FIFO another user made, a host file with its own submodule url): neither is read, the submodules deploy as .gitmodules itself names them', async () => {
    const origin = await makeOrigin();
    const lib = await makeOrigin();
    await lib.commit({ 'lib.txt': 'the real lib\n' }, 'Lib');
    await addSubmodule(origin, lib, 'vendor/lib');
    const world = makeWorld();
    const path = join(world.dir, 'app');
    world.writeConfig({ targets: { app: { repo: origin.url, path, submodules: 'recursive', git_timeout: '5s' } } });
    expect((await world.cli(['run'])).exitCode).toBe(0);
    const fifo = join(world.dir, 'fifo');
    await execa('mkfifo', [fifo]);
    const hostFile = join(world.dir, 'host.gitconfig');
    const pwned = join(world.dir, 'pwned');
    writeFileSync(hostFile, `[submodule "vendor/lib"]\n\turl = ext::sh -c touch% ${pwned}\n`);
    const own = readFileSync(join(origin.work, '.gitmodules'), 'utf8');
    for (const [name, include] of [['a FIFO', fifo], ['a host file', hostFile]]) {
      await origin.commit({ '.gitmodules': `${own}[include]\n\tpath = ${include}\n`, 'app.txt': `${name}\n` }, `.gitmodules including ${name}`);
      const r = await world.cli(['run']);
      expect(r.exitCode, `${name}\n${r.stderr}`).toBe(0);
      // Well within git_timeout (5s): the FIFO was never opened.
      expect(r.durationMs, name).toBeLessThan(4000);
      expect(world.state('app')?.deployedSha).toBe(await origin.head());
      expect(readFileSync(join(path, 'vendor', 'lib', 'lib.txt'), 'utf8')).toBe('the real lib\n');
      expect(existsSync(pwned)).toBe(false);
    }
  });

});

describe.skipIf(requireBinary('git-lfs', 'git-lfs'))('repository faults: Git LFS', { timeout: 120_000 }, () => {
  it('#45 a commit using Git LFS without lfs: true: one line naming lfs: true, before anything goes live, not counted', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const path = join(world.dir, 'app');
    world.writeConfig({ targets: { app: { repo: origin.url, path, strategy: 'releases' } } });
    expect((await world.cli(['run'])).exitCode).toBe(0);
    const deployed = await origin.head();
    const release = readlinkSync(join(path, 'current'));
    const content = 'x'.repeat(5000);
    await lfsOrigin(content).then(async (lfs) => {
      world.writeConfig({ targets: { app: { repo: lfs.url, path, strategy: 'releases' } } });
    });
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/uses Git LFS .* \(fix: set lfs: true on target app/);
    expect(readlinkSync(join(path, 'current'))).toBe(release);
    expect(world.state('app')?.deployedSha).toBe(deployed);
    // A config issue, not the commit's fault: it is not counted towards quarantine.
    expect(world.state('app')?.failures ?? {}).toEqual({});
  });

  for (const strategy of ['in-place', 'releases'] as const) {
    it(`#57 ${strategy}: a commit's .lfsconfig (lfs.url, remote.origin.lfsurl, lfs.<url>.access, fetchexclude, skipdownloaderrors) cannot pick the LFS server or skip a download: the real store's content deploys, the other endpoints are never contacted`, async () => {
      const origin = await lfsOrigin('first\n'.repeat(300));
      // master: the name a bare repository's HEAD has, so git-lfs in the releases mirror reads HEAD:.lfsconfig too.
      await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/master']);
      const world = makeWorld();
      const path = join(world.dir, 'app');
      world.writeConfig({ targets: { app: { repo: origin.url, path, strategy, branch: 'master', lfs: true } } });
      expect((await world.cli(['run'])).exitCode).toBe(0);
      const tree = () => (strategy === 'releases' ? join(path, readlinkSync(join(path, 'current'))) : path);
      // Another LFS store on this host (an internal service's, an attacker's), and a listener on loopback.
      const other = await makeOrigin();
      const otherBefore = listing(other.bare);
      const listener = await startReceiver();
      // Each commit adds an LFS object the deployed clone does not have yet, so git-lfs must download it.
      const pushWithLfsconfig = async (name: string, content: string, lfsconfig: string) => {
        writeFileSync(join(origin.work, name), content);
        await origin.git(['add', name]);
        await origin.git(['commit', '-q', '-m', `add ${name}`]);
        // The objects go to the real store, whatever the .lfsconfig already in the tree says.
        await origin.git(['-c', `lfs.url=${origin.url}`, 'lfs', 'push', 'origin', 'main']);
        writeFileSync(join(origin.work, '.lfsconfig'), lfsconfig);
        await origin.git(['add', '.lfsconfig']);
        await origin.git(['commit', '-q', '-m', `point LFS elsewhere (${name})`]);
        await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/master']);
      };

      const second = 'second\n'.repeat(300);
      await pushWithLfsconfig('second.bin', second, `[lfs]\n\turl = ${listener.url}/lfs\n[lfs "${listener.url}/lfs"]\n\taccess = basic\n`);
      const r2 = await world.cli(['run']);
      expect(r2.exitCode, r2.stderr).toBe(0);
      expect(readFileSync(join(tree(), 'second.bin'), 'utf8')).toBe(second);
      expect(listener.requests).toEqual([]);

      const third = 'third\n'.repeat(300);
      await pushWithLfsconfig('third.bin', third, `[remote "origin"]\n\tlfsurl = ${other.url}\n[lfs]\n\tfetchexclude = *\n\tskipdownloaderrors = true\n`);
      const r3 = await world.cli(['run']);
      expect(r3.exitCode, r3.stderr).toBe(0);
      expect(readFileSync(join(tree(), 'third.bin'), 'utf8')).toBe(third);
      expect(readFileSync(join(tree(), 'second.bin'), 'utf8')).toBe(second);
      expect(listing(other.bare)).toEqual(otherBefore);
      expect(listener.requests).toEqual([]);
    });
  }

  for (const strategy of ['in-place', 'releases'] as const) {
    it(`#62 ${strategy}: a repository whose LFS objects live on another server: lfs: true fails in one line naming lfs: { url }, lfs: { url } deploys the content`, async () => {
      const content = 'stored elsewhere\n'.repeat(300);
      const { origin, store } = await lfsOriginElsewhere(content);
      const world = makeWorld();
      const path = join(world.dir, 'app');
      world.writeConfig({ targets: { app: { repo: origin.url, path, strategy, lfs: true } } });
      const r1 = await world.cli(['run']);
      expect(r1.exitCode).toBe(1);
      const lines = r1.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^pollpray: app: fetching the Git LFS objects of [0-9a-f]{12} failed: .* \(fix: .*lfs: \{ url: /);
      expect(world.state('app')?.deployedSha ?? undefined).toBeUndefined();
      expect(existsSync(join(path, 'big.bin'))).toBe(false);

      world.writeConfig({ targets: { app: { repo: origin.url, path, strategy, lfs: { url: store.url } } } });
      const r2 = await world.cli(['run']);
      expect(r2.exitCode, r2.stderr).toBe(0);
      const tree = strategy === 'releases' ? join(path, readlinkSync(join(path, 'current'))) : path;
      expect(readFileSync(join(tree, 'big.bin'), 'utf8')).toBe(content);
      expect(world.state('app')?.deployedSha).toBe(await origin.head());
    });
  }

  it('#62 credentials in lfs.url reach the LFS server through git\'s environment: never on a command line, in the log or in status', async () => {
    const PASSWORD = 'lfs-secret-q7w8e9';
    const content = 'behind credentials\n'.repeat(300);
    const { origin, store } = await lfsOriginElsewhere(content);
    const server = await startLfsHttp(store.bare, { user: 'lfs-reader', password: PASSWORD, watch: PASSWORD });
    const world = makeWorld();
    const path = join(world.dir, 'app');
    world.writeConfig({ targets: { app: { repo: origin.url, path, lfs: { url: server.url.replace('http://', `http://lfs-reader:${PASSWORD}@`) } } } });
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(join(path, 'big.bin'), 'utf8')).toBe(content);
    const basic = `Basic ${Buffer.from(`lfs-reader:${PASSWORD}`).toString('base64')}`;
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
    expect(server.requests.every((q) => q.authorization === basic), JSON.stringify(server.requests)).toBe(true);
    expect(server.exposed).toEqual([]);
    expect(readFileSync(join(path, '.git', 'config'), 'utf8')).not.toContain(PASSWORD);
    expect((await world.cli(['status', '--json'])).stdout).not.toContain(PASSWORD);
    expect(world.logText()).not.toContain(PASSWORD);
    expect(`${r.stdout}${r.stderr}`).not.toContain(PASSWORD);
  });

  it('#80 lfs: { url } whose credentials the LFS server refuses: one line naming that server and lfs.url, not counted against the commit; the right ones deploy it on the next run', async () => {
    const PASSWORD = 'lfs-secret-r2t4y6';
    const { origin, store } = await lfsOriginElsewhere('refused\n'.repeat(300));
    const server = await startLfsHttp(store.bare, { user: 'lfs-reader', password: PASSWORD });
    const world = makeWorld();
    const path = join(world.dir, 'app');
    const write = (password: string) => world.writeConfig({ targets: { app: { repo: origin.url, path, lfs: { url: server.url.replace('http://', `http://lfs-reader:${password}@`) } } } });
    write('stale-password-0000');
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    // Before: "fetching the Git LFS objects of … failed: error: failed to fetch some objects from '…'", counted against the commit.
    expect(lines[0]).toMatch(new RegExp(`^pollpray: app: Git LFS server ${server.url.replace(/[.]/g, '\\.')} refused access to the LFS objects of [0-9a-f]{12}: .*Authentication required.* \\(fix: check the credentials in lfs\\.url `));
    expect(r.stderr).not.toContain('stale-password-0000');
    expect(world.state('app')).toMatchObject({ lastFault: 'host' });

    write(PASSWORD);
    const again = await world.cli(['run']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(readFileSync(join(path, 'big.bin'), 'utf8')).toBe('refused\n'.repeat(300));
  });

  for (const strategy of ['in-place', 'releases'] as const) {
    it(`#63 ${strategy}: a commit's .lfsconfig spelling the LFS server's URL differently (trailing /, //, %6c, ?query) cannot choose how git-lfs authenticates to it`, async () => {
      const first = 'first\n'.repeat(300);
      const { origin, store } = await lfsOriginElsewhere(first);
      // master: the name a bare repository's HEAD has, so git-lfs in the releases mirror reads HEAD:.lfsconfig too.
      await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/master']);
      const server = await startLfsHttp(store.bare);
      const world = makeWorld();
      const path = join(world.dir, 'app');
      world.writeConfig({ targets: { app: { repo: origin.url, path, strategy, branch: 'master', lfs: { url: server.url } } } });
      const r1 = await world.cli(['run']);
      expect(r1.exitCode, r1.stderr).toBe(0);
      const tree = () => (strategy === 'releases' ? join(path, readlinkSync(join(path, 'current'))) : path);
      // Each spelling ties with the pinned lfs.<url>.access under git-lfs's URL matching; git-lfs
      // would pick one of the tied keys at random (Go map order), so several of them and two
      // deploys leave pollpray's pin about a 1 % chance of winning every time without the fix.
      const u = server.url;
      const spellings = [`${u}/`, `${u}//`, u.replace(/\/lfs$/, '//lfs'), u.replace(/\/lfs$/, '/%6cfs'), u.replace(/\/lfs$/, '/%6Cfs/'), `${u}?a`, `${u}/?b`, `${u}#c`, `${u}//?d`];
      // One more arrives inside a value: git-lfs reads `git config -l` line by line, so a value's newline starts a key.
      const injected = `[lfs]\n\tfetchexclude = "\\nlfs.${u}/?e.access=basic"\n`;
      const lfsconfig = `[lfs]\n\turl = ${store.url}\n${spellings.map((s) => `[lfs "${s}"]\n\taccess = basic\n`).join('')}${injected}`;
      for (const name of ['second.bin', 'third.bin']) {
        const content = `${name}\n`.repeat(300);
        writeFileSync(join(origin.work, name), content);
        writeFileSync(join(origin.work, '.lfsconfig'), lfsconfig);
        await origin.git(['add', name, '.lfsconfig']);
        await origin.git(['commit', '-q', '-m', `add ${name}, ask for basic auth`]);
        await origin.git(['-c', `lfs.url=${store.url}`, 'lfs', 'push', 'origin', 'main']);
        await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/master']);
        const r = await world.cli(['run']);
        expect(r.exitCode, r.stderr).toBe(0);
        expect(readFileSync(join(tree(), name), 'utf8')).toBe(content);
      }
      expect(server.requests.filter((q) => q.authorization !== undefined)).toEqual([]);
      expect(server.requests.length).toBeGreaterThanOrEqual(4);
    });
  }

  it('#63 a commit whose .lfsconfig sets more than 64 lfs.<url>.access keys is refused in one line, not passed on as an ever longer command line', async () => {
    const { origin, world, deployed } = await deployedLfsTarget();
    writeFileSync(join(origin.work, '.lfsconfig'), Array.from({ length: 65 }, (_, i) => `[lfs "https://h${i}.example/"]\n\taccess = basic\n`).join(''));
    await origin.git(['add', '.lfsconfig']);
    await origin.git(['commit', '-q', '-m', 'many access keys']);
    await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/\.lfsconfig sets 65 lfs\.<url>\.access keys .*not deploying it \(fix: remove the lfs\.<url>\.access keys/);
    expect(world.state('app')?.deployedSha).toBe(deployed);
  });

  it('#64 in-place: a commit whose .lfsconfig git cannot parse (git-lfs then drops every pinned key) is refused: LFS never comes from a store the commit names', async () => {
    const { origin, world, path, deployed } = await deployedLfsTarget();
    // Another LFS store on this host, reached through a link the commit adds at `origin`: with its
    // pinned config gone, git-lfs falls back to the remote's name, i.e. the path `origin`.
    const other = await makeOrigin();
    symlinkSync(other.bare, join(origin.work, 'origin'));
    writeFileSync(join(origin.work, '.lfsconfig'), '[lfs\n\turl = nowhere\n');
    await origin.git(['add', 'origin', '.lfsconfig']);
    await origin.git(['commit', '-q', '-m', 'an .lfsconfig git cannot parse']);
    await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
    const r2 = await world.cli(['run']);
    expect(r2.exitCode).toBe(1);
    const lines = r2.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^pollpray: app: commit [0-9a-f]{12}'s \.lfsconfig cannot be read by git config .*; not deploying it \(fix: /);
    expect(world.state('app')?.deployedSha).toBe(deployed);
    expect(existsSync(join(path, '.lfsconfig'))).toBe(false);

    // Its next commit adds an LFS file whose object only that other store holds (made with the
    // bad .lfsconfig out of the work tree: it is in the commit, from the index).
    rmSync(join(origin.work, '.lfsconfig'));
    writeFileSync(join(origin.work, 'second.bin'), 'from the other store\n'.repeat(300));
    await origin.git(['add', 'second.bin']);
    await origin.git(['commit', '-q', '-m', 'an LFS file the real store does not have']);
    await origin.git(['-c', `lfs.url=${other.url}`, 'lfs', 'push', 'origin', 'main']);
    await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
    const r3 = await world.cli(['run']);
    expect(r3.exitCode).toBe(1);
    // Before: git-lfs fetched from file://<path>/origin, the store the commit's link names.
    expect(r3.stderr).not.toContain(join(path, 'origin'));
    expect(existsSync(join(path, 'second.bin'))).toBe(false);
    expect(world.state('app')?.deployedSha).toBe(deployed);
  });

  it('credentials in an https repo URL written without .git reach the LFS server git-lfs derives (<repo>.git/info/lfs), never on a command line', async () => {
    const PASSWORD = 'lfs-derived-k4j5h6';
    const content = 'derived endpoint\n'.repeat(300);
    const origin = await lfsOrigin(content);
    const server = await startGitHttp(origin, 'deploy', PASSWORD, PASSWORD, { lfs: true });
    const world = makeWorld();
    const path = join(world.dir, 'app');
    // As a forge's clone URL is often written: no .git at the end.
    const repo = server.url.replace(/\.git$/, '').replace('http://', `http://deploy:${PASSWORD}@`);
    world.writeConfig({ targets: { app: { repo, path, lfs: true } } });
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(join(path, 'big.bin'), 'utf8')).toBe(content);
    const basic = `Basic ${Buffer.from(`deploy:${PASSWORD}`).toString('base64')}`;
    expect(server.authorizations.filter((a) => a === basic).length).toBeGreaterThan(2);
    expect(server.exposed).toEqual([]);
    expect(readFileSync(join(path, '.git', 'config'), 'utf8')).not.toContain(PASSWORD);
    expect(world.logText()).not.toContain(PASSWORD);
    expect(`${r.stdout}${r.stderr}`).not.toContain(PASSWORD);
  });

  it('#65 a commit whose .lfsconfig includes a file of this host (include.path, a FIFO another user made) is refused in one line, before git or git-lfs reads it', async () => {
    const { origin, world, path, deployed } = await deployedLfsTarget({ git_timeout: '20s' });
    const fifo = join(world.dir, 'planted.fifo');
    await execa('mkfifo', [fifo]);
    for (const [n, section] of [[1, `[include]\n\tpath = ${fifo}\n`], [2, `[includeIf "gitdir:/"]\n\tpath = ${fifo}\n`]] as const) {
      // Into the commit without a work tree file, git-lfs's filter or its hooks: the author's
      // own git-lfs would block on the FIFO too.
      const noLfs = ['-c', 'filter.lfs.process=', '-c', 'filter.lfs.required=false', '-c', 'filter.lfs.clean=cat', '-c', 'core.hooksPath=/dev/null'];
      const blob = (await execa('git', ['hash-object', '-w', '--no-filters', '--stdin'], { cwd: origin.work, input: section })).stdout.trim();
      await origin.git([...noLfs, 'update-index', '--add', '--cacheinfo', `100644,${blob},.lfsconfig`]);
      await origin.git([...noLfs, 'commit', '-q', '-m', `an .lfsconfig that includes a host file (${n})`]);
      await origin.git([...noLfs, 'push', '-q', 'origin', 'HEAD:refs/heads/main']);
      const started = Date.now();
      const r = await world.cli(['run']);
      expect(r.exitCode).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^pollpray: app: commit [0-9a-f]{12}'s \.lfsconfig includes other config files \(include\.path\).*not deploying it \(fix: remove the \[include\]/);
      // Refused on sight, not after waiting git_timeout (20 s) on the FIFO.
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(world.state('app')?.deployedSha).toBe(deployed);
    }
  });

  for (const strategy of ['in-place', 'releases'] as const) {
    it.skipIf(noSshKeygen)(`#103 ${strategy}: verify with lfs: an unsigned commit's LFS objects are never downloaded; it is refused as unverified as before`, async () => {
      const origin = await lfsOrigin('first\n'.repeat(300));
      const server = await startLfsHttp(origin.bare);
      const world = makeWorld();
      const allowed = await signCommits(origin, world.dir);
      const signed = await origin.commit({ 'app.txt': 'signed\n' }, 'Signed');
      const path = join(world.dir, 'app');
      world.writeConfig({ targets: { app: { repo: origin.url, path, strategy, lfs: { url: server.url }, verify: { mode: 'ssh', allowed_signers: allowed } } } });
      const first = await world.cli(['run']);
      expect(first.exitCode, first.stderr).toBe(0);
      expect(server.requests.length).toBeGreaterThan(0);
      const before = server.requests.length;

      // Whoever pushes without the key adds an LFS object the forge stores (a big one, here 1 MB).
      await origin.git(['config', 'commit.gpgsign', 'false']);
      writeFileSync(join(origin.work, 'second.bin'), 'unsigned lfs content\n'.repeat(50_000));
      await origin.git(['add', 'second.bin']);
      await origin.git(['commit', '-q', '-m', 'Unsigned, with an LFS file']);
      await origin.git(['lfs', 'push', 'origin', 'main']);
      await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
      for (let i = 0; i < 2; i++) {
        const r = await world.cli(['run']);
        expect(r.exitCode).toBe(1);
        expect(r.stderr).toMatch(/unverified: commit \w{12} is not signed/);
        // Not one request: no batch call, no download (before: git lfs fetch ran before the signature check).
        expect(server.requests.slice(before)).toEqual([]);
        expect(world.state('app')).toMatchObject({ deployedSha: signed, lastResult: 'unverified' });
      }
      const tree = strategy === 'releases' ? join(path, readlinkSync(join(path, 'current'))) : path;
      expect(existsSync(join(tree, 'second.bin'))).toBe(false);
      expect(readFileSync(join(tree, 'big.bin'), 'utf8')).toBe('first\n'.repeat(300));

      // Signed again: deployed, its LFS file downloaded then.
      await origin.git(['config', 'commit.gpgsign', 'true']);
      const fixed = await origin.commit({ 'app.txt': 'signed again\n' }, 'Signed again');
      const ok = await world.cli(['run']);
      expect(ok.exitCode, ok.stderr).toBe(0);
      expect(world.state('app')?.deployedSha).toBe(fixed);
      const now = strategy === 'releases' ? join(path, readlinkSync(join(path, 'current'))) : path;
      expect(readFileSync(join(now, 'second.bin'), 'utf8')).toBe('unsigned lfs content\n'.repeat(50_000));
    });
  }

  for (const [strategy, widened] of [['in-place', ['site/', 'big.bin']], ['in-place', undefined], ['releases', ['site/', 'big.bin']], ['releases', undefined]] as const) {
    it(`#58 ${strategy}: widening paths (to ${widened ? widened.join(', ') : 'all'}) with lfs: true deploys the LFS file's content, not its pointer`, async () => {
      const content = 'widened lfs content\n'.repeat(300);
      const origin = await lfsOrigin(content);
      await origin.commit({ 'site/index.html': 'v1\n' }, 'site v1');
      const world = makeWorld();
      const path = join(world.dir, 'app');
      world.writeConfig({ targets: { app: { repo: origin.url, path, strategy, lfs: true, paths: ['site/'] } } });
      const r1 = await world.cli(['run']);
      expect(r1.exitCode, r1.stderr).toBe(0);
      const tree = () => (strategy === 'releases' ? join(path, readlinkSync(join(path, 'current'))) : path);
      expect(existsSync(join(tree(), 'big.bin'))).toBe(false);
      // The next commit leaves big.bin as it was, so the checkout that moves to it has no reason to rewrite it.
      await origin.commit({ 'site/index.html': 'v2\n' }, 'site v2');
      world.writeConfig({ targets: { app: { repo: origin.url, path, strategy, lfs: true, ...(widened ? { paths: widened } : {}) } } });
      const r2 = await world.cli(['run']);
      expect(r2.exitCode, r2.stderr).toBe(0);
      expect(readFileSync(join(tree(), 'site/index.html'), 'utf8')).toBe('v2\n');
      expect(readFileSync(join(tree(), 'big.bin'), 'utf8')).toBe(content);
    });
  }
});

/** Every path under `dir` with its size and mtime: what a visit that wrote anything would change. */
function listing(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort().map((p) => {
    const st = statSync(join(dir, p));
    return `${p} ${st.size} ${st.mtimeMs}`;
  });
}

describe.skipIf(requireBinary('sshd', 'openssh-server'))('repository faults: slow first clone', { timeout: 120_000 }, () => {
  it('#46 a first clone slower than git_timeout gets clone_timeout; a later fetch that slow is killed at git_timeout', async () => {
    const sshd = await startSshd();
    const origin = await makeOrigin();
    // Every second ssh session (the fetch after each ls-remote) is slow on the server side.
    const counter = join(sshd.dir, 'sessions');
    const slow = join(sshd.dir, 'slow-upload-pack.sh');
    writeFileSync(slow, `#!/bin/sh\nn=$(cat ${counter} 2>/dev/null || echo 0)\necho $((n + 1)) > ${counter}\n[ $((n % 2)) -eq 1 ] && sleep 4\nexec sh -c "$SSH_ORIGINAL_COMMAND"\n`, { mode: 0o755 });
    writeFileSync(join(sshd.dir, 'authorized_keys'), `command="${slow}" ${readFileSync(sshd.clientKeyPub, 'utf8').trim()}\n`, { mode: 0o600 });
    const world = makeWorld();
    const path = join(world.dir, 'app');
    const target = { repo: sshd.repoUrl(origin.bare), path, git_timeout: '2s', clone_timeout: '1m', ssh: { key: sshd.clientKey, known_hosts: sshd.knownHostsFile } };
    world.writeConfig({ targets: { app: target } });
    const first = await world.cli(['run']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(readFileSync(join(path, 'README'), 'utf8')).toBe('pollpray test origin\n');

    await origin.commit({ 'v.txt': '2\n' }, 'v2');
    const later = await world.cli(['run']);
    expect(later.exitCode).toBe(1);
    expect(later.stderr).toMatch(/fetch did not finish within git_timeout \(2(?:\.0)?s\) and was killed \(fix: .*raise git_timeout/);
  });
});

describe.skipIf(requireBinary('script', 'bsdutils'))('repositories: progress on a terminal', { timeout: 120_000 }, () => {
  it('a clone shows git\'s progress when stderr is a terminal, and never in cron-like (piped) output', async () => {
    const origin = await makeOrigin();
    await origin.commit({ 'a.txt': 'a\n'.repeat(1000) }, 'Some content');
    const world = makeWorld();
    world.writeConfig({ targets: { app: { repo: origin.url, path: join(world.dir, 'app') } } });
    const piped = await world.cli(['run']);
    expect(piped.exitCode, piped.stderr).toBe(0);
    expect(piped.stderr).not.toMatch(/Receiving objects|Enumerating objects/);
    expect(world.logText()).not.toMatch(/Enumerating objects|Receiving objects/);

    const other = makeWorld();
    other.writeConfig({ targets: { app: { repo: origin.url, path: join(other.dir, 'app') } } });
    // script(1) gives the run a pseudo-terminal, as an operator's shell would.
    const tty = await execa('script', ['-qfec', `node ${BIN} run`, '/dev/null'], { cwd: other.dir, env: other.env, reject: false, stdin: 'ignore' });
    expect(tty.exitCode, tty.stdout).toBe(0);
    expect(tty.stdout).toMatch(/Enumerating objects|Receiving objects/);
    expect(other.logText()).not.toMatch(/Enumerating objects|Receiving objects/);
  });
});
