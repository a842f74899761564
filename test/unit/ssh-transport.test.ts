import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { normalise, type Target } from '../../src/config/normalise.js';
import { groupByConnection } from '../../src/commands/run.js';
import { classifyTransport, explain } from '../../src/git/errors.js';
import { fingerprint, isDefaultIdentity, parseKnownHosts, parseSshG } from '../../src/git/host-keys.js';
import { controlPath, MAX_CONTROL_PATH } from '../../src/git/multiplex.js';
import { knownHostsName, parseHostArg, sshDestination, sshUrlPath, sshUrlProblem } from '../../src/git/ssh-url.js';
import { sshArgv } from '../../src/git/ssh.js';

const CHANGED = `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
The fingerprint for the ED25519 key sent by the remote host is
SHA256:/1SWdAW2j6Ti7iao5L+Bbmf5NDftHx09ltiOGpRiD8s.
Offending ED25519 key in kh_changed:1
Host key for [127.0.0.1]:2399 has changed and you have requested strict checking.
Host key verification failed.
fatal: Could not read from remote repository.`;

const UNKNOWN = `No ED25519 host key is known for [127.0.0.1]:2399 and you have requested strict checking.
Host key verification failed.
fatal: Could not read from remote repository.`;

describe('classifyTransport on real ssh/git stderr', () => {
  it.each([
    [CHANGED, 'host-key-changed'],
    [UNKNOWN, 'host-key-unknown'],
    ['git@github.com: Permission denied (publickey).\nfatal: Could not read from remote repository.', 'auth-refused'],
    ['Load key "/k": bad permissions\ngit@h: Permission denied (publickey).', 'key-unusable'],
    ['@ WARNING: UNPROTECTED PRIVATE KEY FILE! @', 'key-unusable'],
    ['ssh: connect to host 10.1.2.3 port 22: Connection timed out', 'timeout'],
    ['Connection timed out during banner exchange\nConnection to 127.0.0.1 port 4 timed out', 'timeout'],
    ['ssh: connect to host 127.0.0.1 port 1: Connection refused', 'connection-refused'],
    ['ssh: Could not resolve hostname nope.invalid: Name or service not known', 'unreachable'],
    ['channel 3: open failed: administratively prohibited: open failed', 'too-many-sessions'],
    ["fatal: '/srv/x.git' does not appear to be a git repository", 'repo-not-found'],
    ['ERROR: Repository not found.', 'repo-not-found'],
  ])('%#: %s', (stderr, kind) => {
    expect(classifyTransport(stderr)?.kind).toBe(kind);
  });

  it('names the host and the presented fingerprint of a changed host key, loudly', () => {
    const c = classifyTransport(CHANGED);
    expect(c).toEqual({ kind: 'host-key-changed', host: '127.0.0.1:2399', fingerprint: 'SHA256:/1SWdAW2j6Ti7iao5L+Bbmf5NDftHx09ltiOGpRiD8s' });
    const e = explain(c!, 'r');
    expect(e.message).toMatch(/^HOST KEY CHANGED for 127\.0\.0\.1:2399: .*intercepting.*refusing/);
    expect(e.hint).toMatch(/pollpray trust-host 127\.0\.0\.1:2399 --replace/);
  });

  it('tells how to trust an unknown host, with its port', () => {
    const c = classifyTransport(UNKNOWN);
    expect(c).toEqual({ kind: 'host-key-unknown', host: '127.0.0.1:2399' });
    expect(explain(c!, 'r').hint).toMatch(/^run pollpray trust-host 127\.0\.0\.1:2399 /);
  });

  it('names an IPv6 host the way trust-host reads it back, in brackets', () => {
    const on = (host: string) => classifyTransport(`No ED25519 host key is known for ${host} and you have requested strict checking.\nHost key verification failed.`)?.host;
    expect(on('[::1]:2399')).toBe('[::1]:2399');
    expect(on('::1')).toBe('[::1]');
    expect(on('[127.0.0.1]:2399')).toBe('127.0.0.1:2399');
    expect(on('github.com')).toBe('github.com');
    for (const h of ['[::1]:2399', '[::1]', '127.0.0.1:2399', 'github.com']) expect(parseHostArg(h), h).toBeDefined();
  });

  it('leaves unknown output unclassified', () => {
    expect(classifyTransport('fatal: something new')).toBeUndefined();
  });
});

describe('sshDestination reads URLs the way git does', () => {
  it.each([
    ['git@github.com:acme/todo.git', { user: 'git', host: 'github.com', authority: 'git@github.com' }],
    ['github.com-repo-todo:acme/todo.git', { host: 'github.com-repo-todo', authority: 'github.com-repo-todo' }],
    ['ssh://git@127.0.0.1:2222/srv/a.git', { user: 'git', host: '127.0.0.1', port: 2222, authority: 'git@127.0.0.1:2222' }],
    ['ssh://[::1]:22/a.git', { host: '::1', port: 22, authority: '[::1]:22' }],
    ['git+ssh://h/a', { host: 'h', authority: 'h' }],
    ['file:///srv/a.git', undefined],
    ['https://github.com/acme/todo.git', undefined],
    ['/srv/a.git', undefined],
    ['./a:b', undefined],
    // scp-like with an IPv6 literal: git connects to ::1 (t5601-clone), not to "[".
    ['git@[::1]:acme/app.git', { user: 'git', host: '::1', authority: 'git@[::1]' }],
    ['[::1]:acme/app.git', { host: '::1', authority: '[::1]' }],
    ['[git@::1]:acme/app.git', { user: 'git', host: '::1', authority: '[git@::1]' }],
    ['[myhost:123]:src', { host: 'myhost', port: 123, authority: '[myhost:123]' }],
    ['ssh://git@[::1]:2222/acme/app.git', { user: 'git', host: '::1', port: 2222, authority: 'git@[::1]:2222' }],
    // Brackets git would read some other, surprising way: not a destination (config refuses them).
    ['git@[::1:acme/app.git', undefined],
    ['[::1]acme:app.git', undefined],
    ['git@[]:acme/app.git', undefined],
  ])('%s', (repo, expected) => {
    expect(sshDestination(repo)).toEqual(expected);
  });

  it('names the repo URLs whose brackets git would misread', () => {
    expect(sshUrlProblem('git@[::1]:acme/app.git')).toBeUndefined();
    expect(sshUrlProblem('ssh://git@[::1]:2222/acme/app.git')).toBeUndefined();
    expect(sshUrlProblem('git@github.com:acme/app.git')).toBeUndefined();
    expect(sshUrlProblem('https://[::1]:8443/acme/app.git')).toBeUndefined();
    expect(sshUrlProblem('/srv/git/[x]/app.git')).toBeUndefined();
    expect(sshUrlProblem('git@[::1:acme/app.git')).toMatch(/\[/);
    expect(sshUrlProblem('[::1]acme:app.git')).toMatch(/\[/);
    expect(sshUrlProblem('ssh://git@[::1/acme/app.git')).toMatch(/\[/);
    expect(sshUrlProblem('[-oProxyCommand=x]:acme/app.git')).toMatch(/option/);
    expect(sshUrlProblem('git@-oProxyCommand=x:acme/app.git')).toMatch(/option/);
  });

  it('reads the path of an ssh URL as git-lfs sends it to git-lfs-authenticate', () => {
    expect(sshUrlPath('ssh://git@lfs.example.com:2222/srv/lfs/app.git')).toBe('/srv/lfs/app.git');
    expect(sshUrlPath('ssh://git@[::1]:2222/srv/a%20b.git')).toBe('/srv/a b.git');
    expect(sshUrlPath('git@lfs.example.com:acme/app.git')).toBe('acme/app.git');
    expect(sshUrlPath('git@lfs.example.com:/srv/app.git')).toBe('/srv/app.git');
    expect(sshUrlPath('git@[::1]:acme/app.git')).toBe('acme/app.git');
    expect(sshUrlPath('https://lfs.example.com/app.git')).toBeUndefined();
  });

  it('parses trust-host arguments and names hosts as known_hosts does', () => {
    expect(parseHostArg('github.com')).toEqual({ host: 'github.com', port: 22 });
    expect(parseHostArg('127.0.0.1:2222')).toEqual({ host: '127.0.0.1', port: 2222 });
    expect(parseHostArg('[::1]:2222')).toEqual({ host: '::1', port: 2222 });
    expect(parseHostArg('-oProxyCommand=x')).toBeUndefined();
    expect(parseHostArg('h:99999')).toBeUndefined();
    expect(knownHostsName('github.com', 22)).toBe('github.com');
    expect(knownHostsName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
  });
});

describe('host key material', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('computes the same SHA256 fingerprint as ssh-keygen -l', () => {
    const key = join(dir, 'k');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const [type, blob] = readFileSync(`${key}.pub`, 'utf8').split(' ');
    const real = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${key}.pub`], { encoding: 'utf8' }).split(' ')[1];
    expect(type).toBe('ssh-ed25519');
    expect(fingerprint(blob!)).toBe(real);
  });

  it('parses known_hosts lines, skipping comments and markers', () => {
    const lines = parseKnownHosts('# c\n[h]:22 ssh-ed25519 AAAA x\n@revoked * ssh-rsa BBBB\n\nh2,h3 ssh-rsa CCCC\n');
    expect(lines).toEqual([
      { hosts: '[h]:22', type: 'ssh-ed25519', blob: 'AAAA' },
      { hosts: 'h2,h3', type: 'ssh-rsa', blob: 'CCCC' },
    ]);
  });

  it('reads ssh -G output and tells configured keys from ssh defaults', () => {
    const r = parseSshG('user git\nhostname github.com\nport 22\nidentityfile /etc/k\nidentityfile ~/.ssh/id_rsa\nhostkeyalias none\n');
    expect(r).toEqual({ hostname: 'github.com', port: 22, user: 'git', identityFiles: ['/etc/k', '~/.ssh/id_rsa'] });
    expect(isDefaultIdentity('~/.ssh/id_ed25519')).toBe(true);
    expect(isDefaultIdentity('/etc/k')).toBe(false);
  });
});

function config(targets: Record<string, Record<string, unknown>>, stateDir = '/var/lib/pollpray') {
  return normalise({ state_dir: stateDir, targets: targets as never }, '/etc/pollpray/config.yaml');
}

describe('the ssh command', () => {
  it('pins known_hosts to pollpray\'s own file and never offers another key or the agent', () => {
    const [t] = config({ a: { repo: 'git@h:a.git', path: '/srv/a', ssh: { key: 'keys/a' } } }).targets;
    const argv = sshArgv(t!);
    expect(argv.slice(0, 3)).toEqual(['ssh', '-F', '/dev/null']);
    expect(argv).toContain('IdentitiesOnly=yes');
    expect(argv).toContain('IdentityAgent=none');
    expect(argv).toContain('StrictHostKeyChecking=yes');
    expect(argv).toContain('UserKnownHostsFile=/var/lib/pollpray/known_hosts');
    expect(argv).toContain('GlobalKnownHostsFile=/dev/null');
    expect(argv.join(' ')).toContain('-i /etc/pollpray/keys/a');
  });

  it('offers no key at all when none is configured', () => {
    const [t] = config({ a: { repo: 'git@h:a.git', path: '/srv/a' } }).targets;
    expect(sshArgv(t!)).toContain('IdentityFile=none');
  });
});

describe('connection sharing', () => {
  const targets = config({
    a: { repo: 'git@h:a.git', path: '/srv/a', ssh: { key: '/k1' } },
    b: { repo: 'git@h:b.git', path: '/srv/b', ssh: { key: '/k1' } },
    c: { repo: 'git@h:c.git', path: '/srv/c', ssh: { key: '/k2' } },
    d: { repo: 'git@other:d.git', path: '/srv/d', ssh: { key: '/k1' } },
    e: { repo: 'file:///srv/e.git', path: '/srv/e' },
  }).targets;
  const byName = (n: string) => targets.find((t) => t.name === n) as Target;

  it('shares one control path per host and key, never across keys or hosts', () => {
    const path = (n: string) => controlPath('/var/lib/pollpray/ssh', byName(n));
    expect(path('a')).toBe(path('b'));
    expect(path('a')).not.toBe(path('c'));
    expect(path('a')).not.toBe(path('d'));
    expect(path('e')).toBeUndefined();
    expect(path('a')).toMatch(/^\/var\/lib\/pollpray\/ssh\/[0-9a-f]{16}$/);
    expect(path('a')!.length).toBeLessThanOrEqual(MAX_CONTROL_PATH);
  });

  it('groups the targets that share a connection, in config order', () => {
    const groups = groupByConnection(targets).map(([, members]) => members.map((t) => t.name));
    expect(groups).toEqual([['a', 'b'], ['c'], ['d'], ['e']]);
  });
});
