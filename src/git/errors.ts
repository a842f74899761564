/**
 * Turns git/ssh stderr into an actionable error. Parsers are pure and unit-tested on
 * canned output, so a new ssh message is one table row, not a new code path.
 * `classifyTransport` names the kind of failure (test-ssh shows it as a check),
 * `classifyGitFailure` turns the same kind into the error a run reports.
 */
import { lstatSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { GitError, OwnershipError, SshError, type PollprayError } from '../errors.js';
import { fsFault } from '../host/fs-fault.js';
import { ownershipHint } from '../host/ownership.js';
import { keyOfPath } from '../host/path-keys.js';
import { currentUid, currentUser, userName } from '../host/users.js';
import { sshDestination } from './ssh-url.js';

export type TransportFailure =
  | 'host-key-changed'
  | 'host-key-unknown'
  | 'auth-refused'
  | 'timeout'
  | 'connection-refused'
  | 'unreachable'
  | 'key-unusable'
  | 'too-many-sessions'
  | 'repo-not-found'
  | 'no-passwd-entry';

export interface Classified {
  kind: TransportFailure;
  /** The uid ssh found no user for (no-passwd-entry). */
  uid?: string;
  /** `host` or `host:port` as trust-host takes it, when ssh named it. */
  host?: string;
  /** The host name ssh could not resolve or reach, as written (an ssh alias included). */
  unreachable?: string;
  /** The fingerprint ssh reported for the key the server presented (host key changed). */
  fingerprint?: string;
}

// Order matters: a changed host key also prints "Host key verification failed".
const PATTERNS: Array<[TransportFailure, RegExp]> = [
  // ssh will not start at all for a uid /etc/passwd does not name (a container's --user 54321).
  ['no-passwd-entry', /No user exists for uid \d+/],
  ['host-key-changed', /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for \S+ has changed/i],
  ['host-key-unknown', /Host key verification failed|No \S+ host key is known|host key is not known/i],
  ['key-unusable', /Load key .*: (?:bad permissions|Permission denied|No such file|invalid format)|UNPROTECTED PRIVATE KEY FILE|no such identity/i],
  ['auth-refused', /Permission denied \(publickey|Too many authentication failures/i],
  ['timeout', /Connection timed out|Operation timed out|timed out during banner exchange|exceeded git_timeout/i],
  ['connection-refused', /Connection refused/i],
  ['unreachable', /Could not resolve hostname|Name or service not known|No route to host|Network is unreachable|Connection closed by remote host|Connection reset by/i],
  ['too-many-sessions', /administratively prohibited/i],
  ['repo-not-found', /does not appear to be a git repository|repository .* not found|Repository not found|not a git repository|No such file or directory/i],
];

/** `[127.0.0.1]:2222` → `127.0.0.1:2222`, `[::1]:2222` and `github.com` stay, `::1` → `[::1]`: as trust-host reads it. */
export function trustHostArg(knownHostsName: string): string {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(knownHostsName);
  const host = m?.[1] ?? knownHostsName;
  // An IPv6 address keeps its brackets: `::1:2222` would not read back as host and port.
  const shown = host.includes(':') ? `[${host}]` : host;
  return m ? `${shown}:${m[2]}` : shown;
}

export function classifyTransport(stderr: string): Classified | undefined {
  for (const [kind, pattern] of PATTERNS) {
    if (!pattern.test(stderr)) continue;
    const named = /Host key for (\S+) has changed/.exec(stderr)?.[1] ?? /host key is known for (\S+)/.exec(stderr)?.[1];
    const fingerprint = /(SHA256:[A-Za-z0-9+/=]+)/.exec(stderr)?.[1];
    const unreachable = /Could not resolve hostname ([^\s:]+)/.exec(stderr)?.[1] ?? /connect to host (\S+) port (\d+)/.exec(stderr)?.slice(1, 3).join(' port ');
    const uid = kind === 'no-passwd-entry' ? /No user exists for uid (\d+)/.exec(stderr)?.[1] : undefined;
    return {
      kind,
      ...(uid ? { uid } : {}),
      ...(unreachable && (kind === 'unreachable' || kind === 'connection-refused' || kind === 'timeout') ? { unreachable } : {}),
      ...(named && (kind === 'host-key-changed' || kind === 'host-key-unknown') ? { host: trustHostArg(named) } : {}),
      ...(fingerprint && kind === 'host-key-changed' ? { fingerprint } : {}),
    };
  }
  return undefined;
}

export interface Explained {
  message: string;
  hint: string;
}

/** The one-line message and fix for each kind (shared by run errors and test-ssh checks). */
export function explain(c: Classified, repo: string): Explained {
  const host = c.host ?? '<host>[:port]';
  switch (c.kind) {
    case 'host-key-changed':
      return {
        message: `HOST KEY CHANGED for ${c.host ?? 'the server'}: it presents a different key${c.fingerprint ? ` (${c.fingerprint})` : ''} than the one pinned in known_hosts. This can mean someone is intercepting the connection; refusing to connect`,
        hint: `do not deploy until the server's owner confirms the new key; then run pollpray trust-host ${host} --replace`,
      };
    case 'host-key-unknown':
      return {
        message: `host key unknown: ${c.host ?? 'the server'} is not in the pinned known_hosts`,
        hint: `run pollpray trust-host ${host} and compare the fingerprint with the one your forge publishes`,
      };
    case 'auth-refused':
      return {
        message: 'authentication refused: the server did not accept this target\'s key (no other key was tried)',
        hint: 'add the key\'s .pub as a read-only deploy key of this repository, or point ssh.key at the right key',
      };
    case 'timeout':
      if (!isSshRemote(repo)) {
        return { message: `connection to ${remoteHost(repo)} timed out`, hint: 'check the URL\'s host, the outbound firewall and any proxy (https_proxy); raise git_timeout for a slow server' };
      }
      return { message: `connection${c.unreachable ? ` to ${c.unreachable}` : ''} timed out`, hint: 'check the host name, port and outbound firewall rules (or raise ssh.connect_timeout)' };
    case 'connection-refused':
      return {
        message: `host unreachable: connection refused${c.unreachable ? ` by ${c.unreachable}` : ''}`,
        hint: 'check the host and port in repo/ssh settings, and that the ssh server is running',
      };
    case 'unreachable':
      if (c.unreachable && !c.unreachable.includes(' port ')) {
        return {
          message: `host unreachable: cannot resolve host name ${c.unreachable}`,
          hint: `check the host in repo; if ${c.unreachable} is an ssh alias (Host entry), set ssh.config to the file that defines it, or write the real host name in repo`,
        };
      }
      return { message: `host unreachable${c.unreachable ? `: ${c.unreachable}` : ''}`, hint: 'check the host name in repo and the network (DNS, routes)' };
    case 'key-unusable':
      return {
        message: 'deploy key unusable (missing, unreadable or too open)',
        hint: 'chmod 600 the key and make it owned by this user; run pollpray test-ssh for details',
      };
    case 'too-many-sessions':
      return { message: 'the ssh server refused another session on the shared connection', hint: 'lower concurrency (sshd allows MaxSessions, 10 by default, per connection)' };
    case 'no-passwd-entry':
      return {
        message: `ssh cannot run as uid ${c.uid ?? '?'}: no user of that uid exists (ssh needs an /etc/passwd entry for the user it runs as)`,
        hint: `give the uid a user: useradd --system --uid ${c.uid ?? '<uid>'} --home-dir /var/lib/pollpray pollpray (in a container, add that user to the image or run it as a user the image has)`,
      };
    case 'repo-not-found':
      return {
        message: `repository not found: ${repo}`,
        hint: 'check the repo URL; on a forge, check that the deploy key has access to this repository',
      };
  }
}

const isSshRemote = (repo: string) => sshDestination(repo) !== undefined;
const remoteHost = (repo: string) => /^[a-z+]+:\/\/(?:[^@/]*@)?([^/:]+)/i.exec(repo)?.[1] ?? repo;

/** git's refusal of a repository another user owns: not damage, the wrong user. */
const DUBIOUS = /detected dubious ownership in repository at '([^']+)'/;

/**
 * A local directory git could not write (or read): `could not create work tree dir
 * '/srv/app': Permission denied`, `unable to create temporary file: No space left on
 * device`. The path, when git names one, decides the config key in the message.
 */
const REASONS = '(Permission denied|Read-only file system|No space left on device|Disk quota exceeded)';
/** Most specific first: a quoted path, an unquoted one (`unable to create file sub/b.txt`), the reason alone. */
const LOCAL_FS = [
  new RegExp(`'([^']+)'[^\\n]*?: ${REASONS}`),
  new RegExp(`(?:^|\\s)([^\\s':]*[./][^\\s':]*): ${REASONS}`),
  new RegExp(`()${REASONS}`),
];
const ERRNO: Record<string, string> = {
  'Permission denied': 'EACCES',
  'Read-only file system': 'EROFS',
  'No space left on device': 'ENOSPC',
  'Disk quota exceeded': 'EDQUOT',
};

function hostFault(stderr: string, target: string, cwd: string | undefined): PollprayError | undefined {
  const dubious = DUBIOUS.exec(stderr)?.[1];
  if (dubious) {
    let owner: number | undefined;
    try {
      owner = lstatSync(dubious).uid;
    } catch {
      owner = undefined;
    }
    const key = keyOfPath(dubious)?.key ?? 'the repository';
    if (owner !== undefined && owner !== currentUid()) {
      return new OwnershipError(`git refuses ${dubious} (${key}): it is owned by ${userName(owner)}, not ${currentUser()}`, {
        target,
        hint: ownershipHint({ what: 'repository', path: dubious, key, owner }),
      });
    }
  }
  // ssh's own "Permission denied (publickey)" and key-file complaints are the transport's.
  if (/Permission denied \(|Load key|UNPROTECTED PRIVATE KEY/.test(stderr)) return undefined;
  // What the server says about its own disk is not this host's fault, and git's
  // warnings (an unreadable ~/.config/git/ignore) are not what failed.
  const local = stderr.split('\n').filter((l) => !/^(remote|warning):/.test(l)).join('\n');
  let m: RegExpExecArray | null = null;
  for (const pattern of LOCAL_FS) if (!m) m = pattern.exec(local);
  if (!m?.[2]) return undefined;
  const named = m[1] || undefined;
  // git names paths relative to where it runs (`unable to unlink old 'app.txt'`).
  const path = named && cwd && !isAbsolute(named) ? join(cwd, named) : (named ?? cwd);
  if (!path) return undefined;
  return fsFault({ code: ERRNO[m[2]], path, syscall: 'git' }, target);
}

export function classifyGitFailure(stderr: string, target: string, repo: string, what: string, cwd?: string): PollprayError {
  const local = hostFault(stderr, target, cwd);
  if (local) return local;
  const c = classifyTransport(stderr);
  if (c) {
    const { message, hint } = explain(c, repo);
    if (c.kind === 'repo-not-found') return new GitError(message, { target, hint });
    // No passwd entry for the running uid: this host's set-up, never the commit's.
    return new SshError(message, { target, hint, ...(c.kind === 'no-passwd-entry' ? { fault: 'host' as const } : {}) });
  }
  const last = stderr.trim().split('\n').filter(Boolean).pop() ?? 'no output';
  const hint = isSshRemote(repo)
    ? 'run pollpray test-ssh for a diagnosis'
    : repo.startsWith('file://') || repo.startsWith('/')
      ? `check that ${repo} is a git repository ${currentUser()} can read`
      : `check that ${repo} answers from this host (git ls-remote ${repo})`;
  return new GitError(`${what} failed: ${last}`, { target, hint });
}

/** `git ls-remote` output: `<sha>\t<ref>` per line. */
export function parseLsRemote(stdout: string): Map<string, string> {
  const refs = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const [sha, ref] = line.trim().split('\t');
    if (sha && ref && /^[0-9a-f]{40,64}$/.test(sha)) refs.set(ref, sha);
  }
  return refs;
}
