/**
 * The signature gate on real commits in a temp repository, signed with ssh keys made
 * here (ssh-keygen), checked by real git: what passes, and the words of each refusal.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
