/**
 * Turns git/ssh stderr into an actionable error. Parsers are pure and unit-tested on
 * canned output, so a new ssh message is one table row, not a new code path.
 */
import { GitError, SshError, type PollprayError } from '../errors.js';

interface Rule {
  pattern: RegExp;
  make: (target: string, repo: string) => PollprayError;
}

const RULES: Rule[] = [
  {
    pattern: /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i,
    make: (target) =>
      new SshError('host key changed: the server presents a different key than the pinned one (possible interception); refusing to connect', {
        target,
        hint: 'confirm the new key with the server owner, then remove the old line from known_hosts and run pollpray trust-host',
      }),
  },
  {
    pattern: /Host key verification failed|No (?:ED25519|RSA|ECDSA) host key is known|host key is not known/i,
    make: (target) =>
      new SshError('host key unknown: the server is not in the pinned known_hosts', {
        target,
        hint: 'run pollpray trust-host <host> to pin it after checking its fingerprint',
      }),
  },
  {
    pattern: /Permission denied \(publickey/i,
    make: (target) =>
      new SshError('authentication refused: the server did not accept this target\'s key', {
        target,
        hint: 'add the key\'s .pub as a read-only deploy key of this repository',
      }),
  },
  {
    pattern: /Connection timed out|Operation timed out|timed out during banner exchange/i,
    make: (target) =>
      new SshError('connection timed out', { target, hint: 'check the host name, port and outbound firewall rules' }),
  },
  {
    pattern: /Connection refused/i,
    make: (target) =>
      new SshError('host unreachable: connection refused', { target, hint: 'check the host and port in repo/ssh settings' }),
  },
  {
    pattern: /Could not resolve hostname|Name or service not known|No route to host|Network is unreachable/i,
    make: (target) =>
      new SshError('host unreachable', { target, hint: 'check the host name in repo and the network (DNS, routes)' }),
  },
  {
    pattern: /Load key .*: (?:bad permissions|Permission denied|No such file)|UNPROTECTED PRIVATE KEY FILE|no such identity/i,
    make: (target) =>
      new SshError('deploy key unusable (missing, unreadable or too open)', {
        target,
        hint: 'chmod 600 the key and make it owned by this user; run pollpray test-ssh for details',
      }),
  },
  {
    pattern: /does not appear to be a git repository|repository .* not found|Repository not found|not a git repository|No such file or directory/i,
    make: (target, repo) =>
      new GitError(`repository not found: ${repo}`, {
        target,
        hint: 'check the repo URL; on a forge, check that the deploy key has access to this repository',
      }),
  },
];

export function classifyGitFailure(stderr: string, target: string, repo: string, what: string): PollprayError {
  for (const rule of RULES) if (rule.pattern.test(stderr)) return rule.make(target, repo);
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
