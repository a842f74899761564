/**
 * The signature gate: before anything of a new commit is checked out or run, that
 * exact commit must carry a good signature from a signer the target trusts. Fails
 * closed: no signature, a bad one, an unknown signer, a missing trust file or a git
 * that cannot check are all refusals.
 *
 * ssh mode: `git -c gpg.ssh.allowedSignersFile=<allowed_signers> verify-commit <sha>`
 * (ssh-keygen -Y verify; the file is the allowlist, in ssh-keygen's ALLOWED SIGNERS format).
 * gpg mode: the same with GNUPGHOME=<keyring>, a GnuPG home directory holding only the
 * trusted public keys. Every key in it is trusted by being there, so git's "good
 * signature, unknown trust" (U) passes in gpg mode; in ssh mode only G does.
 *
 * verify-commit's exit code is the gate; `%G?` (the same check, as one letter) only
 * chooses the words of the refusal, and must agree.
 */
import { accessSync, constants, statSync } from 'node:fs';
import type { Target, VerifySettings } from '../config/normalise.js';
import { SignatureError } from '../errors.js';
import { git } from './git.js';

/** Pinned so no system or repo config can point git at another verifier. */
const VERIFY_CONFIG = ['-c', 'gpg.ssh.program=ssh-keygen', '-c', 'gpg.program=gpg'];

export interface Signature {
  /** git's %G?: G good, B bad, U good but untrusted/unknown signer, X/Y expired, R revoked, E cannot check, N none. */
  status: string;
  key: string;
  signer: string;
}

/** `repoDir` is the clone holding `sha`: the checkout (in-place) or the mirror (releases). */
export async function verifyCommit(target: Target, sha: string, repoDir: string = target.path): Promise<Signature> {
  const v = target.verify;
  if (!v) throw new Error('verifyCommit called for a target without verify');
  const trust = trustArgs(target, v);
  const call = { cwd: repoDir, target, env: trust.env };
  const check = await git([...VERIFY_CONFIG, ...trust.config, 'verify-commit', sha], call);
  const show = await git([...VERIFY_CONFIG, ...trust.config, 'log', '-1', '--no-show-signature', '--format=%G?%x00%GK%x00%GS', sha], call);
  const [status = 'E', key = '', signer = ''] = show.stdout.trim().split('\0');
  const accepted = v.mode === 'ssh' ? ['G'] : ['G', 'U'];
  if (check.exitCode === 0 && !check.timedOut && show.exitCode === 0 && accepted.includes(status)) return { status, key, signer };
  // verify-commit said no although the letter looks fine (or the reverse): say "cannot be checked".
  throw refusal(target, v, sha, { status: accepted.includes(status) ? 'E' : status, key, signer });
}

function trustArgs(target: Target, v: VerifySettings): { config: string[]; env?: Record<string, string> } {
  if (v.mode === 'ssh') {
    const file = v.allowedSigners ?? '';
    mustRead(target, file, 'allowed_signers', () => statSync(file).isFile());
    return { config: ['-c', `gpg.ssh.allowedSignersFile=${file}`] };
  }
  const dir = v.keyring ?? '';
  mustRead(target, dir, 'keyring', () => statSync(dir).isDirectory());
  return { config: [], env: { GNUPGHOME: dir } };
}

function readable(path: string, ok: () => boolean): boolean {
  try {
    accessSync(path, constants.R_OK);
    return ok();
  } catch {
    return false;
  }
}

function mustRead(target: Target, path: string, key: string, ok: () => boolean): void {
  if (!readable(path, ok)) {
    throw new SignatureError(`unverified: verify.${key} ${path || '(not set)'} is missing or unreadable, so no commit can be verified`, {
      target: target.name,
      hint: key === 'keyring' ? 'make it a GnuPG home directory with the trusted public keys (gpg --homedir DIR --import KEY.asc)' : 'create it with one line per trusted key: <email> namespaces="git" <public key>',
    });
  }
}

function refusal(target: Target, v: VerifySettings, sha: string, sig: Signature): SignatureError {
  const c = sha.slice(0, 12);
  const trustFile = v.mode === 'ssh' ? `allowed_signers ${v.allowedSigners}` : `keyring ${v.keyring}`;
  const by = sig.key ? ` by key ${sig.key}` : '';
  const why: Record<string, string> = {
    N: `commit ${c} is not signed`,
    B: `commit ${c} has a bad signature${by} (the commit or its signature was altered)`,
    U: `commit ${c} is signed${by}, which is not in ${trustFile}`,
    X: `commit ${c} has an expired signature${by}`,
    Y: `commit ${c} is signed${by}, which has expired`,
    R: `commit ${c} is signed${by}, which was revoked`,
    E: `commit ${c}'s signature cannot be checked${by} (signer not in ${trustFile}, or the ${v.mode} tools are missing)`,
  };
  return new SignatureError(`unverified: ${why[sig.status] ?? why.E}; not deploying it`, {
    target: target.name,
    hint: `push a commit signed by a key in ${trustFile} (git commit -S), or add the signer's key there; the deployed commit stays`,
  });
}

export function signedBy(sig: Signature): string {
  return `signature good: ${sig.signer || 'signer'} (${sig.key})`;
}
