/**
 * What ssh itself reads for a target's destination (`ssh -G` with the options a run
 * passes): the host, port and user it connects to, and the identity files it offers.
 */
import type { Target } from '../config/normalise.js';
import { run } from '../exec/run.js';
import { parseSshG, type ResolvedSsh } from './host-keys.js';
import { sshDestination } from './ssh-url.js';
import { sshArgv } from './ssh.js';

/** ssh -G for the target's destination, exactly as git would invoke ssh for it. */
export async function resolveSsh(target: Target, cwd: string): Promise<ResolvedSsh | { error: string }> {
  const dest = sshDestination(target.repo);
  if (!dest) return { error: 'not an ssh URL' };
  const argv = [...sshArgv(target), '-G', ...(dest.port ? ['-p', String(dest.port)] : []), `${dest.user ? `${dest.user}@` : ''}${dest.host}`];
  const result = await run(argv, { cwd, timeoutMs: 10_000, env: { SSH_AUTH_SOCK: undefined } });
  if (result.exitCode !== 0) return { error: result.stderr.trim().split('\n').pop() ?? `ssh -G exited ${result.exitCode}` };
  return parseSshG(result.stdout);
}
