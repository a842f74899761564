/**
 * Turns git/ssh stderr into an actionable error. Parsers are pure and unit-tested on
 * canned output, so a new ssh message is one table row, not a new code path.
 * `classifyTransport` names the kind of failure (test-ssh shows it as a check),
 * `classifyGitFailure` turns the same kind into the error a run reports.
 */
import { GitError, SshError, type PollprayError } from '../errors.js';

export type TransportFailure =
  | 'host-key-changed'
  | 'host-key-unknown'
  | 'auth-refused'
  | 'timeout'
  | 'connection-refused'
  | 'unreachable'
  | 'key-unusable'
  | 'too-many-sessions'
  | 'repo-not-found';

export interface Classified {
  kind: TransportFailure;
  /** `host` or `host:port` as trust-host takes it, when ssh named it. */
  host?: string;
  /** The fingerprint ssh reported for the key the server presented (host key changed). */
  fingerprint?: string;
}

// Order matters: a changed host key also prints "Host key verification failed".
const PATTERNS: Array<[TransportFailure, RegExp]> = [
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

/** `[127.0.0.1]:2222` → `127.0.0.1:2222`, `github.com` stays. */
export function trustHostArg(knownHostsName: string): string {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(knownHostsName);
  return m ? `${m[1]}:${m[2]}` : knownHostsName;
}

export function classifyTransport(stderr: string): Classified | undefined {
  for (const [kind, pattern] of PATTERNS) {
    if (!pattern.test(stderr)) continue;
    const named = /Host key for (\S+) has changed/.exec(stderr)?.[1] ?? /host key is known for (\S+)/.exec(stderr)?.[1];
    const fingerprint = /(SHA256:[A-Za-z0-9+/=]+)/.exec(stderr)?.[1];
    return {
      kind,
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
      return { message: 'connection timed out', hint: 'check the host name, port and outbound firewall rules (or raise ssh.connect_timeout)' };
    case 'connection-refused':
      return { message: 'host unreachable: connection refused', hint: 'check the host and port in repo/ssh settings, and that the ssh server is running' };
    case 'unreachable':
      return { message: 'host unreachable', hint: 'check the host name in repo and the network (DNS, routes)' };
    case 'key-unusable':
      return {
        message: 'deploy key unusable (missing, unreadable or too open)',
        hint: 'chmod 600 the key and make it owned by this user; run pollpray test-ssh for details',
      };
    case 'too-many-sessions':
      return { message: 'the ssh server refused another session on the shared connection', hint: 'lower concurrency (sshd allows MaxSessions, 10 by default, per connection)' };
    case 'repo-not-found':
      return {
        message: `repository not found: ${repo}`,
        hint: 'check the repo URL; on a forge, check that the deploy key has access to this repository',
      };
  }
}

export function classifyGitFailure(stderr: string, target: string, repo: string, what: string): PollprayError {
  const c = classifyTransport(stderr);
  if (c) {
    const { message, hint } = explain(c, repo);
    return c.kind === 'repo-not-found' ? new GitError(message, { target, hint }) : new SshError(message, { target, hint });
  }
  const last = stderr.trim().split('\n').filter(Boolean).pop() ?? 'no output';
  return new GitError(`${what} failed: ${last}`, { target, hint: 'run pollpray test-ssh for a diagnosis' });
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
