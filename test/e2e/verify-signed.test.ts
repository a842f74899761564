import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeOrigin, type Origin } from '../helpers/origin.js';
import { makeWorld, type World } from '../helpers/pollpray-cli.js';
import { requireBinary } from '../helpers/require-env.js';

/** An ssh signing key made in the test, and its allowed_signers line. */
function signingKey(world: World, name: string): { key: string; allowedLine: string } {
  const key = join(world.dir, `${name}_ed25519`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key]);
  const pub = execFileSync('ssh-keygen', ['-y', '-f', key], { encoding: 'utf8' }).trim();
  return { key, allowedLine: `${name}@pollpray.invalid namespaces="git" ${pub}` };
}

/** The next origin.commit() is signed with `key`, or unsigned when `key` is undefined. */
async function signWith(origin: Origin, key: string | undefined): Promise<void> {
  await origin.git(['config', 'gpg.format', 'ssh']);
  await origin.git(['config', 'commit.gpgsign', key ? 'true' : 'false']);
  if (key) await origin.git(['config', 'user.signingkey', key]);
}

function headOf(path: string): string {
  return execFileSync('git', ['-C', path, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
}

async function setup() {
  const origin = await makeOrigin();
  const world = makeWorld();
  const trusted = signingKey(world, 'release');
  const stranger = signingKey(world, 'stranger');
  const allowedSigners = join(world.dir, 'allowed_signers');
  writeFileSync(allowedSigners, `${trusted.allowedLine}\n`);
  const path = join(world.dir, 'www', 'app');
  const deploy = world.script('deploy.sh', `echo "$POLLPRAY_NEW_SHA" >> "${world.dir}/deploys.log"`);
  world.writeConfig({
    targets: { app: { repo: origin.url, path, deploy, verify: { mode: 'ssh', allowed_signers: allowedSigners } } },
  });
  const deploys = () => (existsSync(join(world.dir, 'deploys.log')) ? execFileSync('cat', [join(world.dir, 'deploys.log')], { encoding: 'utf8' }).trim().split('\n') : []);
  return { origin, world, path, trusted, stranger, deploys };
}

describe.skipIf(requireBinary('ssh-keygen', 'openssh-client'))('verify: ssh-signed commits only', () => {
  it('a commit signed by an allowed key is deployed', async () => {
    const { origin, world, path, trusted, deploys } = await setup();
    await signWith(origin, trusted.key);
    const signed = await origin.commit({ 'app.txt': 'v1\n' }, 'signed release');
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(headOf(path)).toBe(signed);
    expect(deploys()).toEqual([signed]);
    expect(world.logText()).toMatch(/verify: signature good: release@pollpray\.invalid \(SHA256:/);
  });

  it('an unsigned commit is refused: exit 1, status unverified with the reason, the deployed commit stays', async () => {
    const { origin, world, path, trusted, deploys } = await setup();
    await signWith(origin, trusted.key);
    const good = await origin.commit({ 'app.txt': 'v1\n' }, 'signed');
    expect((await world.cli(['run'])).exitCode).toBe(0);
    await signWith(origin, undefined);
    const unsigned = await origin.commit({ 'app.txt': 'v2\n', 'evil.txt': 'x\n' }, 'unsigned');

    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^pollpray: app: unverified: commit ${unsigned.slice(0, 12)} is not signed; not deploying it \\(fix: .+\\)$`, 'm'));
    expect(headOf(path)).toBe(good);
    expect(existsSync(join(path, 'evil.txt'))).toBe(false);
    expect(deploys()).toEqual([good]);
    expect(world.state('app')).toMatchObject({ deployedSha: good, remoteSha: unsigned, lastResult: 'unverified', lastError: expect.stringContaining('is not signed') });
    expect(world.history('app').at(-1)).toMatchObject({ result: 'unverified', sha: unsigned, previousSha: good });

    const status = await world.cli(['status']);
    expect(status.stdout).toMatch(/app\s+main\s+[0-9a-f]{12}\s+unverified/);
    expect(status.stdout).toMatch(/app: last error: .*unverified: commit [0-9a-f]{12} is not signed/);
  });

  it('a commit signed by a key not in allowed_signers is refused', async () => {
    const { origin, world, path, stranger, deploys } = await setup();
    await signWith(origin, stranger.key);
    const foreign = await origin.commit({ 'app.txt': 'v1\n' }, 'signed by a stranger');
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`app: unverified: commit ${foreign.slice(0, 12)} is signed by key SHA256:\\S+, which is not in allowed_signers`));
    expect(deploys()).toEqual([]);
    expect(existsSync(join(path, 'app.txt'))).toBe(false);
    expect(world.state('app')).toMatchObject({ deployedSha: null, lastResult: 'unverified' });
  });

  it('when only an older commit is signed, the unsigned head is not deployed (and neither is the older one)', async () => {
    const { origin, world, path, trusted, deploys } = await setup();
    await signWith(origin, trusted.key);
    await origin.commit({ 'app.txt': 'v1\n' }, 'signed');
    await signWith(origin, undefined);
    await origin.commit({ 'app.txt': 'v2\n' }, 'unsigned on top');
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/unverified: commit [0-9a-f]{12} is not signed/);
    expect(deploys()).toEqual([]);
    expect(existsSync(join(path, 'app.txt'))).toBe(false);
    expect(world.state('app')).toMatchObject({ deployedSha: null, lastResult: 'unverified' });
  });

  it('a missing allowed_signers file refuses every commit (fails closed)', async () => {
    const { origin, world, trusted, deploys } = await setup();
    await signWith(origin, trusted.key);
    await origin.commit({ 'app.txt': 'v1\n' }, 'signed');
    execFileSync('rm', [join(world.dir, 'allowed_signers')]);
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/app: unverified: verify\.allowed_signers \S+ is missing or unreadable/);
    expect(deploys()).toEqual([]);
  });
});

describe.skipIf(requireBinary('gpg', 'gnupg'))('verify: gpg-signed commits with a keyring directory', () => {
  /** A gpg signing identity in its own home, and a git gpg.program that uses it. */
  function gpgSigner(world: World, name: string): { email: string; program: string; publicKey: string } {
    const home = join(world.dir, `gpg-${name}`);
    execFileSync('install', ['-d', '-m', '0700', home]);
    onTestFinished(() => {
      execFileSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
    });
    const email = `${name}@pollpray.invalid`;
    execFileSync('gpg', ['--batch', '--homedir', home, '--passphrase', '', '--quick-gen-key', `${name} <${email}>`, 'ed25519', 'sign', 'never'], { stdio: 'ignore' });
    const publicKey = execFileSync('gpg', ['--homedir', home, '--export', '--armor', email], { encoding: 'utf8' });
    const program = world.script(`gpg-${name}.sh`, `GNUPGHOME='${home}' exec gpg "$@"`);
    return { email, program, publicKey };
  }

  it('a commit signed by a key in the keyring is deployed; one signed by another key is refused', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const release = gpgSigner(world, 'release');
    const stranger = gpgSigner(world, 'stranger');
    const keyring = join(world.dir, 'keyring');
    execFileSync('install', ['-d', '-m', '0700', keyring]);
    onTestFinished(() => {
      execFileSync('gpgconf', ['--homedir', keyring, '--kill', 'gpg-agent']);
    });
    execFileSync('gpg', ['--batch', '--homedir', keyring, '--import'], { input: release.publicKey, stdio: ['pipe', 'ignore', 'ignore'] });
    const path = join(world.dir, 'www', 'app');
    world.writeConfig({ targets: { app: { repo: origin.url, path, verify: { mode: 'gpg', keyring } } } });

    const sign = async (s: { email: string; program: string }) => {
      await origin.git(['config', 'gpg.format', 'openpgp']);
      await origin.git(['config', 'gpg.program', s.program]);
      await origin.git(['config', 'user.signingkey', s.email]);
      await origin.git(['config', 'commit.gpgsign', 'true']);
    };
    await sign(release);
    const good = await origin.commit({ 'app.txt': 'v1\n' }, 'release-signed');
    const r1 = await world.cli(['run']);
    expect(r1.exitCode, r1.stderr).toBe(0);
    expect(headOf(path)).toBe(good);

    await sign(stranger);
    const foreign = await origin.commit({ 'app.txt': 'v2\n' }, 'stranger-signed');
    const r2 = await world.cli(['run']);
    expect(r2.exitCode).toBe(1);
    expect(r2.stderr).toMatch(new RegExp(`app: unverified: commit ${foreign.slice(0, 12)}'s signature cannot be checked`));
    expect(headOf(path)).toBe(good);
    expect(world.state('app')).toMatchObject({ deployedSha: good, lastResult: 'unverified' });
  });
});
