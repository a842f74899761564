/**
 * Whether ssh can use a deploy key unattended: the file's metadata (src/git/key-file.ts),
 * then `ssh-keygen -y -P ''`, which derives the public key only from a private key that
 * has no passphrase. One verdict for test-ssh, doctor, and a run whose ssh was refused:
 * ssh under BatchMode cannot ask for a passphrase and only says "Permission denied
 * (publickey)", which would send the operator to the forge's deploy key settings. The
 * key and any passphrase are never read out, printed or put on a command line.
 */
import type { Target } from '../config/normalise.js';
import { run } from '../exec/run.js';
import { fingerprint, isDefaultIdentity, type ResolvedSsh } from './host-keys.js';
import { runningUser } from '../config/file-trust.js';
import { homeDir } from '../host/users.js';
import { judgeKeyFile, type KeyVerdict, type Runner } from './key-file.js';
import { resolveSsh } from './ssh-resolve.js';
import { shellQuote } from './ssh.js';

/** The key file's verdict, with its type and fingerprint when it loads without a passphrase. */
export async function checkKeyUsable(path: string, cwd: string, opts: { runner?: Runner; label?: string } = {}): Promise<KeyVerdict> {
  const verdict = judgeKeyFile(path, opts.runner ?? runningUser(), opts.label);
  if (verdict.status === 'fail') return verdict;
  const pub = await run(['ssh-keygen', '-y', '-P', '', '-f', path], { cwd, timeoutMs: 10_000, env: { SSH_ASKPASS: undefined, DISPLAY: undefined } });
  if (pub.exitCode !== 0) {
    const q = shellQuote(path);
    return /passphrase/i.test(pub.stderr)
      ? {
          status: 'fail',
          detail: `${path} is protected by a passphrase: ssh runs unattended (BatchMode) and cannot unlock it`,
          fix: `give the target a deploy key of its own without a passphrase (ssh-keygen -t ed25519 -N '' -f <new file>, its .pub added to the repository, ssh.key pointed at it), or remove this key's passphrase: ssh-keygen -p -f ${q}`,
        }
      : { status: 'fail', detail: `${path} is not a private key ssh can load`, fix: 'point ssh.key at the private key (not the .pub)' };
  }
  const [type, blob] = pub.stdout.trim().split(/\s+/);
  const what = `${type ?? 'key'} ${blob ? fingerprint(blob) : ''}`.trim();
  return { ...verdict, detail: `${verdict.detail} (${what})` };
}

/**
 * The deploy keys ssh offers for the target: ssh.key, else the IdentityFile lines its
 * ssh.config gives the destination (`resolved`, from ssh -G), `~` expanded. ssh's built-in
 * ~/.ssh/id_* list and `none` are no deploy key: pollpray never offers them.
 */
export function deployKeyFiles(target: Target, resolved: ResolvedSsh): string[] {
  if (target.ssh.key) return [target.ssh.key];
  return resolved.identityFiles.filter((k) => !isDefaultIdentity(k) && k.toLowerCase() !== 'none').map((k) => k.replace(/^~(?=\/)/, homeDir() ?? '~'));
}

/** No key at all for the destination: neither ssh.key nor an IdentityFile in the target's ssh.config. */
export function noDeployKey(target: Target, host: string): { status: 'fail'; detail: string; fix: string } {
  return {
    status: 'fail',
    detail: `no deploy key: neither ssh.key nor an IdentityFile for ${host} in ${target.ssh.config ?? 'ssh.config'}`,
    fix: "set ssh.key to this repository's deploy key (pollpray never falls back to ~/.ssh or an agent)",
  };
}

/**
 * Why the target's deploy key (ssh.key, else the IdentityFile of its ssh.config) cannot
 * be used, or undefined when every key it offers loads. Asked only after ssh failed.
 */
export async function unusableDeployKey(target: Target, cwd: string): Promise<KeyVerdict | undefined> {
  let keys: string[];
  if (target.ssh.key) keys = [target.ssh.key];
  else if (target.ssh.config) {
    const resolved = await resolveSsh(target, cwd);
    keys = 'error' in resolved ? [] : deployKeyFiles(target, resolved);
  } else keys = [];
  for (const key of keys) {
    const verdict = await checkKeyUsable(key, cwd);
    if (verdict.status === 'fail') return verdict;
  }
  return undefined;
}
