/**
 * What ssh itself reads for a target's destination (`ssh -G` with the options a run
 * passes): the host, port and user it connects to, and the identity files it offers.
 * The destination is the repo's, or another URL the same ssh command reaches (an ssh
 * `lfs: { url }`: git-lfs runs the target's GIT_SSH_COMMAND for it).
 */
import type { Target } from '../config/normalise.js';
import { run } from '../exec/run.js';
import { parseSshG, type ResolvedSsh } from './host-keys.js';
import { knownHostsName, sshDestination } from './ssh-url.js';
import { sshArgv } from './ssh.js';

/** ssh -G for the target's destination (`url`, the repo by default), exactly as git would invoke ssh for it. */
export async function resolveSsh(target: Target, cwd: string, url: string = target.repo): Promise<ResolvedSsh | { error: string }> {
  const dest = sshDestination(url);
  if (!dest) return { error: 'not an ssh URL' };
  const argv = [...sshArgv(target), '-G', ...(dest.port ? ['-p', String(dest.port)] : []), `${dest.user ? `${dest.user}@` : ''}${dest.host}`];
  const result = await run(argv, { cwd, timeoutMs: 10_000, env: { SSH_AUTH_SOCK: undefined } });
  if (result.exitCode !== 0) return { error: result.stderr.trim().split('\n').pop() ?? `ssh -G exited ${result.exitCode}` };
  return parseSshG(result.stdout);
}

/**
 * The target's LFS server when it is reached over ssh on another host than the repo
 * (`lfs: { url: ssh://… }` or `user@host:path`): with the same key, known_hosts and ssh
 * settings, so its host key must be pinned in the same file. Undefined when there is no
 * such URL, or it resolves to the host (or host key alias) and port the repo does.
 */
export async function lfsSshHost(target: Target, cwd: string, repo?: ResolvedSsh): Promise<{ url: string; resolved: ResolvedSsh | { error: string } } | undefined> {
  const url = target.lfs ? target.lfsUrl : undefined;
  if (!url || !sshDestination(url)) return undefined;
  const resolved = await resolveSsh(target, cwd, url);
  const base = repo ?? (sshDestination(target.repo) ? await resolveSsh(target, cwd) : undefined);
  if (!('error' in resolved) && base && !('error' in base) && hostKeyName(resolved) === hostKeyName(base)) return undefined;
  return { url, resolved };
}

/** The name ssh looks the host key up under: HostKeyAlias, else `host` or `[host]:port`. */
export function hostKeyName(r: ResolvedSsh): string {
  return r.hostKeyAlias ?? knownHostsName(r.hostname, r.port);
}
