/**
 * Whether each ssh remote's host key is pinned in the target's known_hosts. The host
 * is what ssh would really connect to (`ssh -G` resolves aliases from ssh.config),
 * looked up with `ssh-keygen -F`, which also reads hashed entries, under the name ssh
 * itself looks it up under: the `HostKeyAlias` when ssh.config sets one.
 */
import { accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Target } from '../config/normalise.js';
import { run } from '../exec/run.js';
import type { ResolvedSsh } from '../git/host-keys.js';
import { shellQuote } from '../git/ssh.js';
import { knownHostsName, sshDestination } from '../git/ssh-url.js';
import { hostKeyName, lfsSshHost, resolveSsh } from '../git/ssh-resolve.js';
import { trustHostArg } from '../git/errors.js';
import { trustProblem } from '../config/file-trust.js';
import type { Check, CheckResult } from './check.js';

export interface SshRemote {
  host: string;
  port?: number;
  user?: string;
}

/** The ssh host of a git URL, read as git and every other caller reads it (src/git/ssh-url.ts); undefined for https, file and local paths. */
export function sshRemote(repo: string): SshRemote | undefined {
  const dest = sshDestination(repo);
  return dest ? { host: dest.host, port: dest.port, user: dest.user } : undefined;
}

/** What ssh would connect to for this target (aliases resolved by `ssh -G`), or the URL's own host when ssh -G cannot say. */
function connectsTo(t: Target, remote: SshRemote, r: ResolvedSsh | { error: string } | undefined): { host: string; port: number } {
  const fallback = { host: remote.host, port: remote.port ?? t.ssh.port ?? 22 };
  if (!r || 'error' in r) return fallback;
  return { host: r.hostname || fallback.host, port: Number.isInteger(r.port) && r.port > 0 ? r.port : fallback.port };
}

async function knownHostsCheck(me: { uid: number; user: string }, t: Target, r: ResolvedSsh | { error: string } | undefined, url: string = t.repo, what = t.name, server = ''): Promise<CheckResult[]> {
  const remote = sshRemote(url);
  if (!remote) return [];
  const name = `known_hosts (${what})`;
  const file = t.ssh.knownHosts;
  const { host, port } = connectsTo(t, remote, r);
  // ssh looks the key up under this name; ssh-keyscan would write the host's own name, so
  // under an alias only trust-host (which pins under the alias) is a fix that works.
  const entry = r && !('error' in r) ? hostKeyName(r) : knownHostsName(host, port);
  const plain = entry === knownHostsName(host, port);
  const scan = (to: string) =>
    plain
      ? `ssh-keyscan ${port === 22 ? '' : `-p ${port} `}${host} >> ${shellQuote(to)}, then compare ssh-keygen -lf ${shellQuote(to)} with the fingerprints your git host publishes`
      : `pollpray trust-host ${trustHostArg(knownHostsName(host, port))}`;
  if (!file) {
    return [{ name, status: 'warn', detail: `${server}no ssh.known_hosts pinned: ${host} is checked against ~/.ssh/known_hosts of whoever runs pollpray`, fix: `set targets.${t.name}.ssh.known_hosts, and ${scan('/etc/pollpray/known_hosts')}` }];
  }
  // One another local user could change (the default one in a state dir they can write)
  // says whom ssh trusts, and a FIFO there would hang ssh-keygen: named, never read.
  const untrusted = trustProblem(file, me, 'make ssh trust their host key');
  if (untrusted) return [{ name, status: 'fail', detail: `${server}${untrusted.message}`, fix: untrusted.fix }];
  try {
    accessSync(file, constants.R_OK);
  } catch {
    return [{ name, status: 'fail', detail: `${server}${file} does not exist or is not readable`, fix: scan(file) }];
  }
  const found = await run(['ssh-keygen', '-F', entry, '-f', file], { cwd: '/', timeoutMs: 10_000 });
  if (found.spawnError) return [{ name, status: 'warn', detail: 'ssh-keygen not found, cannot look into known_hosts', fix: 'apt-get install openssh-client' }];
  return found.exitCode === 0 && found.stdout.trim()
    ? [{ name, status: 'ok', detail: `${server}${entry} is pinned in ${file}` }]
    : [{ name, status: 'fail', detail: `${server}${entry} is not in ${file}: ssh will refuse to connect`, fix: scan(file) }];
}

/**
 * The repo's host, and an ssh LFS server on another host (`lfs: { url }`): git-lfs reaches
 * it with the target's ssh settings and known_hosts, and a key missing there would fail
 * only the first deploy that has LFS files.
 */
async function targetKnownHosts(t: Target, me: { uid: number; user: string }): Promise<CheckResult[]> {
  // ssh -G runs an ssh config's `Match exec` commands: one another local user could change
  // is not read at all (the namedFileTrust check fails it, as run refuses it).
  if (t.ssh.config && trustProblem(t.ssh.config, me, 'make ssh run their commands')) return [];
  // One ssh -G per destination, for the LFS comparison and the lookups alike.
  const repo = sshDestination(t.repo) ? await resolveSsh(t, tmpdir()) : undefined;
  const lfs = await lfsSshHost(t, tmpdir(), repo && !('error' in repo) ? repo : undefined);
  return [...(await knownHostsCheck(me, t, repo)), ...(lfs ? await knownHostsCheck(me, t, lfs.resolved, lfs.url, `${t.name} lfs`, 'LFS server: ') : [])];
}

export const knownHosts: Check = async ({ config, uid, user }) => (await Promise.all(config.targets.map((t) => targetKnownHosts(t, { uid, user })))).flat();
