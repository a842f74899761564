/**
 * The signature gate on real commits in a temp repository, signed with ssh keys made
 * here (ssh-keygen), checked by real git: what passes, and the words of each refusal.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Target } from '../../src/config/normalise.js';
import { SignatureError } from '../../src/errors.js';
import { signedBy, verifyCommit } from '../../src/git/verify.js';
import { isolatedGitEnv } from '../helpers/origin.js';
import { requireBinary } from '../helpers/require-env.js';

interface Repo {
  dir: string;
  git(args: string[]): string;
  commit(message: string, key?: string): string;
  key(name: string): { file: string; line: string };
  target(verify: Record<string, string>): Target;
}

function makeRepo(): Repo {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-verify-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const work = join(dir, 'work');
  mkdirSync(work);
  const env = isolatedGitEnv(dir);
  const git = (args: string[]) => execFileSync('git', args, { cwd: work, env, encoding: 'utf8' }).trim();
  git(['init', '-q', '-b', 'main']);
  git(['config', 'user.name', 'Test']);
  git(['config', 'user.email', 'test@pollpray.invalid']);
  git(['config', 'gpg.format', 'ssh']);
  let n = 0;
  return {
    dir: work,
    git,
    commit(message, key) {
      writeFileSync(join(work, 'f.txt'), `${n++}\n`);
      git(['add', 'f.txt']);
      git(key ? ['-c', `user.signingkey=${key}`, 'commit', '-q', '-S', '-m', message] : ['commit', '-q', '--no-gpg-sign', '-m', message]);
      return git(['rev-parse', 'HEAD']);
    },
    key(name) {
      const file = join(dir, `${name}_ed25519`);
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
      const pub = execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim();
      return { file, line: `${name}@pollpray.invalid namespaces="git" ${pub}` };
    },
    target(verify) {
      const file = join(dir, 'pollpray.yaml');
      const v = Object.entries(verify).map(([k, val]) => `      ${k}: ${val}\n`).join('');
      writeFileSync(file, `state_dir: ${join(dir, 'state')}\ntargets:\n  app:\n    repo: ${join(dir, 'origin.git')}\n    path: ${work}\n    verify:\n${v}`);
      chmodSync(file, 0o640);
      return loadConfig(file, { uid: 1000, home: dir, hostname: 'web-01' }).targets[0]!;
    },
  };
}

async function refusal(p: Promise<unknown>): Promise<SignatureError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SignatureError) return err;
    throw err;
  }
  throw new Error('expected a SignatureError');
}

describe.skipIf(requireBinary('ssh-keygen', 'openssh-client'))('verifyCommit, ssh mode', () => {
  function setup() {
    const repo = makeRepo();
    const release = repo.key('release');
    const stranger = repo.key('stranger');
    const allowed = join(repo.dir, '..', 'allowed_signers');
    writeFileSync(allowed, `${release.line}\n`);
    return { repo, release, stranger, allowed, target: repo.target({ mode: 'ssh', allowed_signers: allowed }) };
  }

  it('a commit signed by an allowed key passes, with its signer and key', async () => {
    const { repo, release, target } = setup();
    const sha = repo.commit('signed', release.file);
    const sig = await verifyCommit(target, sha);
    expect(sig).toMatchObject({ status: 'G', signer: 'release@pollpray.invalid' });
    expect(sig.key).toMatch(/^SHA256:/);
    expect(signedBy(sig)).toBe(`signature good: release@pollpray.invalid (${sig.key})`);
    expect(signedBy({ status: 'G', key: 'K', signer: '' })).toBe('signature good: signer (K)');
  });

  it('checks the commit asked for, not HEAD: an unsigned older commit is refused under a signed HEAD', async () => {
    const { repo, release, target } = setup();
    const unsigned = repo.commit('unsigned');
    repo.commit('signed', release.file);
    const err = await refusal(verifyCommit(target, unsigned));
    expect(err.message).toBe(`unverified: commit ${unsigned.slice(0, 12)} is not signed; not deploying it`);
    expect(err.target).toBe('app');
    expect(err.hint).toBe(`push a commit signed by a key in allowed_signers ${target.verify!.allowedSigners} (git commit -S), or add the signer's key there; the deployed commit stays`);
  });

  it('a commit signed by a key not in allowed_signers is refused (git says U: good but unknown), naming the key', async () => {
    const { repo, stranger, target, allowed } = setup();
    const sha = repo.commit('foreign', stranger.file);
    const err = await refusal(verifyCommit(target, sha));
    expect(err.message).toMatch(new RegExp(`^unverified: commit ${sha.slice(0, 12)} is signed by key SHA256:\\S+, which is not in allowed_signers ${allowed}; not deploying it$`));
  });

  it('an altered signature is refused', async () => {
    const { repo, release, target } = setup();
    const sha = repo.commit('signed', release.file);
    // The same signed commit object with its message changed: the signature no longer matches.
    const raw = repo.git(['cat-file', 'commit', sha]).replace('signed', 'tampered');
    const forged = execFileSync('git', ['hash-object', '-t', 'commit', '-w', '--stdin'], { cwd: repo.dir, input: `${raw}\n`, encoding: 'utf8' }).trim();
    const err = await refusal(verifyCommit(target, forged));
    expect(err.message).toMatch(new RegExp(`^unverified: commit ${forged.slice(0, 12)} has a bad signature( by key SHA256:\\S+)? \\(the commit or its signature was altered\\); not deploying it$`));
  });

  it('the repository\'s own config cannot swap the verifier: gpg.ssh.program pointing at /bin/true is ignored', async () => {
    const { repo, stranger, target } = setup();
    const sha = repo.commit('foreign', stranger.file);
    repo.git(['config', 'gpg.ssh.program', '/bin/true']);
    repo.git(['config', 'gpg.ssh.allowedSignersFile', join(repo.dir, '..', 'nothing')]);
    await expect(verifyCommit(target, sha)).rejects.toThrow(/which is not in allowed_signers/);
  });

  it.each([
    ['missing', (f: string) => rmSync(f)],
    ['a directory', (f: string) => (rmSync(f), mkdirSync(f))],
  ])('an allowed_signers file that is %s refuses every commit, even a good one', async (_what, spoil) => {
    const { repo, release, target, allowed } = setup();
    const sha = repo.commit('signed', release.file);
    spoil(allowed);
    const err = await refusal(verifyCommit(target, sha));
    expect(err.message).toBe(`unverified: verify.allowed_signers ${allowed} is missing or unreadable, so no commit can be verified`);
    expect(err.hint).toBe('create it with one line per trusted key: <email> namespaces="git" <public key>');
  });

  it.each([
    ['ssh', 'allowed_signers', { mode: 'ssh' as const }],
    ['gpg', 'keyring', { mode: 'gpg' as const }],
  ])('a %s target whose %s is not set refuses every commit, saying so', async (_mode, key, verify) => {
    const { repo, release, target } = setup();
    const sha = repo.commit('signed', release.file);
    const err = await refusal(verifyCommit({ ...target, verify }, sha));
    expect(err.message).toBe(`unverified: verify.${key} (not set) is missing or unreadable, so no commit can be verified`);
  });

  it('a commit the clone does not hold is refused as not checkable, naming no key', async () => {
    const { repo, target, allowed } = setup();
    repo.commit('x');
    const missing = 'f'.repeat(40);
    const err = await refusal(verifyCommit(target, missing));
    expect(err.message).toBe(`unverified: commit ffffffffffff's signature cannot be checked (signer not in allowed_signers ${allowed}, or the ssh tools are missing); not deploying it`);
  });

  it('a target without verify is a programming error, not a pass', async () => {
    const { repo, target } = setup();
    await expect(verifyCommit({ ...target, verify: undefined }, repo.commit('x'))).rejects.toThrow('verifyCommit called for a target without verify');
  });

  it('repoDir chooses the clone that holds the commit (the mirror, for releases)', async () => {
    const { repo, release, target } = setup();
    const sha = repo.commit('signed', release.file);
    await expect(verifyCommit({ ...target, path: join(repo.dir, '..') }, sha, repo.dir)).resolves.toMatchObject({ status: 'G' });
  });
});

/** A GnuPG signing home with one ed25519 key, made at `conf`'s faked time if given. */
function gpgKey(repo: Repo, name: string, expire = 'never', conf = '') {
  const home = join(repo.dir, '..', `gpg-${name}`);
  mkdirSync(home, { mode: 0o700 });
  if (conf) writeFileSync(join(home, 'gpg.conf'), conf);
  const gpg = (args: string[], input?: string) => execFileSync('gpg', ['--batch', ...args], { env: { ...process.env, GNUPGHOME: home }, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] });
  gpg(['--passphrase', '', '--quick-gen-key', `${name} <${name}@pollpray.invalid>`, 'ed25519', 'sign', expire]);
  const fpr = /^fpr:+([0-9A-F]+):/m.exec(gpg(['--with-colons', '--list-keys']))![1]!;
  return {
    home,
    fpr,
    /** Signs a new commit with this key; `conf` replaces the signing home's gpg.conf first. */
    commit(message: string, signConf?: string): string {
      if (signConf !== undefined) writeFileSync(join(home, 'gpg.conf'), signConf);
      writeFileSync(join(repo.dir, 'f.txt'), `${message}\n`);
      repo.git(['add', 'f.txt']);
      execFileSync('git', ['-c', 'gpg.format=openpgp', '-c', `user.signingkey=${fpr}`, 'commit', '-q', '-S', '-m', message], { cwd: repo.dir, env: { ...isolatedGitEnv(join(repo.dir, '..')), GNUPGHOME: home } });
      return repo.git(['rev-parse', 'HEAD']);
    },
    /** A keyring (GnuPG home) holding this key, with its revocation when `revoked`, marked ultimately trusted when `trusted`. */
    keyring(revoked = false, trusted = false): string {
      const dir = join(repo.dir, '..', `keyring-${name}`);
      mkdirSync(dir, { mode: 0o700 });
      const into = (input: string) => execFileSync('gpg', ['--batch', '--import'], { env: { ...process.env, GNUPGHOME: dir }, input, stdio: ['pipe', 'ignore', 'ignore'] });
      into(gpg(['--armor', '--export', fpr]));
      if (revoked) into(readFileSync(join(home, 'openpgp-revocs.d', `${fpr}.rev`), 'utf8').replace(/^:-/m, '-'));
      if (trusted) execFileSync('gpg', ['--batch', '--import-ownertrust'], { env: { ...process.env, GNUPGHOME: dir }, input: `${fpr}:6:\n`, stdio: ['pipe', 'ignore', 'ignore'] });
      return dir;
    },
  };
}

describe.skipIf(requireBinary('gpg', 'gnupg'))('verifyCommit, gpg mode with real keys', () => {
  it('a commit signed by a key in the keyring passes: good with unknown trust (U) is enough there', async () => {
    const repo = makeRepo();
    const key = gpgKey(repo, 'release');
    const sha = key.commit('signed');
    const sig = await verifyCommit(repo.target({ mode: 'gpg', keyring: key.keyring() }), sha);
    expect(sig).toEqual({ status: 'U', key: key.fpr.slice(-16), signer: 'release <release@pollpray.invalid>' });
  });

  it('a key marked trusted in the keyring gives a good signature (G), which passes too', async () => {
    const repo = makeRepo();
    const key = gpgKey(repo, 'release');
    const sha = key.commit('signed');
    await expect(verifyCommit(repo.target({ mode: 'gpg', keyring: key.keyring(false, true) }), sha)).resolves.toEqual({ status: 'G', key: key.fpr.slice(-16), signer: 'release <release@pollpray.invalid>' });
  });

  it("verify-commit's exit code is the gate: a repository that raises gpg.minTrustLevel makes a U refused as not checkable", async () => {
    const repo = makeRepo();
    const key = gpgKey(repo, 'release');
    const sha = key.commit('signed');
    const keyring = key.keyring();
    repo.git(['config', 'gpg.minTrustLevel', 'fully']);
    const err = await refusal(verifyCommit(repo.target({ mode: 'gpg', keyring }), sha));
    expect(err.message).toBe(`unverified: commit ${sha.slice(0, 12)}'s signature cannot be checked by key ${key.fpr.slice(-16)} (signer not in keyring ${keyring}, or the gpg tools are missing); not deploying it`);
  });

  it("the repository's own config cannot swap the verifier: a gpg.program that reports every signature good is ignored", async () => {
    const repo = makeRepo();
    const key = gpgKey(repo, 'release');
    const stranger = gpgKey(repo, 'stranger');
    const sha = stranger.commit('foreign');
    const forger = join(repo.dir, '..', 'forger.sh');
    const id = key.fpr.slice(-16);
    writeFileSync(
      forger,
      `#!/bin/sh\ncat >/dev/null\necho "[GNUPG:] NEWSIG"\necho "[GNUPG:] GOODSIG ${id} Forged <f@pollpray.invalid>"\necho "[GNUPG:] VALIDSIG ${key.fpr} 2026-01-01 1 0 4 0 22 10 01 ${key.fpr}"\necho "[GNUPG:] TRUST_ULTIMATE 0 pgp"\n`,
      { mode: 0o755 },
    );
    repo.git(['config', 'gpg.program', forger]);
    await expect(verifyCommit(repo.target({ mode: 'gpg', keyring: key.keyring() }), sha)).rejects.toThrow(/signature cannot be checked/);
  });

  it.each([
    ['a signer not in the keyring', 'E', "'s signature cannot be checked by key K (signer not in keyring R, or the gpg tools are missing)"],
    ['a revoked key', 'R', ' is signed by key K, which was revoked'],
    ['an expired key', 'Y', ' is signed by key K, which has expired'],
    ['an expired signature', 'X', ' has an expired signature by key K'],
  ])('%s is refused (%s), in words', async (_what, status, words) => {
    const repo = makeRepo();
    // Made in 2019 and valid for a year; signed in mid-2019 (X: with a signature valid for a day).
    const old = 'faked-system-time 20190101T000000\n';
    const key = status === 'Y' || status === 'X' ? gpgKey(repo, 'release', '1y', old) : gpgKey(repo, 'release');
    const signConf = { Y: 'faked-system-time 20190601T000000\n', X: 'faked-system-time 20190601T000000\ndefault-sig-expire 1d\n' }[status as 'X' | 'Y'];
    const sha = key.commit('signed', signConf);
    const keyring = status === 'E' ? gpgKey(repo, 'other').keyring() : key.keyring(status === 'R');
    const err = await refusal(verifyCommit(repo.target({ mode: 'gpg', keyring }), sha));
    expect(err.message).toBe(`unverified: commit ${sha.slice(0, 12)}${words.replace('K', key.fpr.slice(-16)).replace('R', keyring)}; not deploying it`);
  });
});

describe('verifyCommit, gpg mode', () => {
  it('a keyring that is not a directory refuses, with the hint to make one', async () => {
    const repo = makeRepo();
    const keyring = join(repo.dir, '..', 'keyring');
    writeFileSync(keyring, '');
    const target = repo.target({ mode: 'gpg', keyring });
    const err = await refusal(verifyCommit(target, repo.commit('x')));
    expect(err.message).toBe(`unverified: verify.keyring ${keyring} is missing or unreadable, so no commit can be verified`);
    expect(err.hint).toBe('make it a GnuPG home directory with the trusted public keys (gpg --homedir DIR --import KEY.asc)');
  });

  it('an unsigned commit is refused as not signed, naming the keyring in the hint', async () => {
    const repo = makeRepo();
    const keyring = join(repo.dir, '..', 'keyring');
    mkdirSync(keyring, { mode: 0o700 });
    const target = repo.target({ mode: 'gpg', keyring });
    const sha = repo.commit('x');
    const err = await refusal(verifyCommit(target, sha));
    expect(err.message).toBe(`unverified: commit ${sha.slice(0, 12)} is not signed; not deploying it`);
    expect(err.hint).toContain(`in keyring ${keyring} (git commit -S)`);
  });
});
