import { describe, expect, it } from 'vitest';
import { choosePrincipal } from '../../src/commands/sudoers.js';
import { sshRemote } from '../../src/doctor/known-hosts-check.js';
import { needsPassword, parseSudoLongListing, passwordless, requiresTty } from '../../src/doctor/sudo-listing.js';
import { normalise } from '../../src/config/normalise.js';
import { restartArgv, sudoersLine } from '../../src/exec/sudo.js';
import { allowlistedUnits, principalWord, renderSudoers } from '../../src/privilege/sudoers.js';
import { SudoError, UsageError } from '../../src/errors.js';

const host = { uid: 1000, home: '/home/p' };
const config = normalise(
  {
    systemctl: '/bin/systemctl',
    targets: {
      a: { repo: 'git@h:a.git', path: '/srv/a', restart: ['web.service', 'worker@1.service'] },
      b: { repo: 'git@h:b.git', path: '/srv/b', restart: ['web.service'] },
      c: { repo: 'git@h:c.git', path: '/srv/c' },
    },
  },
  '/etc/pollpray/config.yaml',
  host,
);

describe('restart allowlist', () => {
  const systemd = { kind: 'systemd', binary: '/bin/systemctl' } as const;
  it('builds exactly sudo -n <systemctl> restart <unit> for a listed unit', () => {
    expect(restartArgv(systemd, 'web.service', ['web.service'], 'a')).toEqual(['sudo', '-n', '/bin/systemctl', 'restart', 'web.service']);
  });

  it('builds sudo -n <service> <name> restart and sudo -n <supervisorctl> -c <file> restart <program>', () => {
    expect(restartArgv({ kind: 'service', binary: '/usr/sbin/service' }, 'nginx', ['nginx'], 'a')).toEqual(['sudo', '-n', '/usr/sbin/service', 'nginx', 'restart']);
    expect(restartArgv({ kind: 'supervisorctl', binary: '/usr/bin/supervisorctl', config: '/etc/s.conf' }, 'web:app', ['web:app'], 'a')).toEqual([
      'sudo', '-n', '/usr/bin/supervisorctl', '-c', '/etc/s.conf', 'restart', 'web:app',
    ]);
    expect(restartArgv({ kind: 'supervisorctl', binary: '/usr/bin/supervisorctl' }, 'app', ['app'], 'a')).toEqual(['sudo', '-n', '/usr/bin/supervisorctl', 'restart', 'app']);
  });

  it.each(['other.service', 'web.service --now', '-H evil web.service', '*.service', '-H.service', '-Hx@evil.service', '--now.service'])('refuses %j before sudo runs', (unit) => {
    expect(() => restartArgv(systemd, unit, ['web.service', unit.startsWith('other') ? 'x.service' : unit], 'a')).toThrow(SudoError);
  });

  it.each([
    ['service', '-f'],
    ['service', '../../tmp/x'],
    ['supervisorctl', 'all'],
    ['supervisorctl', 'web:*'],
    ['supervisorctl', '-c'],
  ] as const)('refuses %s entry %j before sudo runs, even when listed', (kind, name) => {
    expect(() => restartArgv({ kind, binary: '/usr/bin/x' }, name, [name], 'a')).toThrow(SudoError);
  });

  it('escapes sudoers syntax characters in a unit name', () => {
    expect(sudoersLine('pp', ['/bin/systemctl', 'restart', 'w@a:b,c=d.service'])).toBe('pp ALL=(root) NOPASSWD: /bin/systemctl restart w@a\\:b\\,c\\=d.service');
  });

  it('renders restart and status lines for supervisorctl programs, restart lines for init scripts', () => {
    const c = normalise(
      {
        supervisorctl: '/usr/bin/supervisorctl',
        supervisor_config: '/etc/supervisor/supervisord.conf',
        targets: {
          a: { repo: 'git@h:a.git', path: '/srv/a', service_manager: 'supervisorctl', restart: ['web:app'] },
          b: { repo: 'git@h:b.git', path: '/srv/b', service_manager: 'service', restart: ['nginx'] },
        },
      },
      '/etc/pollpray/config.yaml',
      host,
    );
    expect(renderSudoers(c, { user: 'pollpray' }).split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([
      'pollpray ALL=(root) NOPASSWD: /usr/bin/supervisorctl -c /etc/supervisor/supervisord.conf restart web\\:app',
      'pollpray ALL=(root) NOPASSWD: /usr/bin/supervisorctl -c /etc/supervisor/supervisord.conf status web\\:app',
      'pollpray ALL=(root) NOPASSWD: /usr/sbin/service nginx restart',
    ]);
  });

  it('renders one line per unit over all targets, each once', () => {
    expect(allowlistedUnits(config)).toEqual(['web.service', 'worker@1.service']);
    const lines = renderSudoers(config, { user: 'pollpray' }).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual([
      'pollpray ALL=(root) NOPASSWD: /bin/systemctl restart web.service',
      'pollpray ALL=(root) NOPASSWD: /bin/systemctl restart worker@1.service',
    ]);
  });

  it('refuses root, odd names, and both --user and --group', () => {
    expect(() => principalWord({ user: 'root' })).toThrow(UsageError);
    expect(() => principalWord({ user: 'a b' })).toThrow(UsageError);
    expect(() => principalWord({ group: 'ALL' })).not.toThrow();
    expect(principalWord({ group: 'deploy' })).toBe('%deploy');
    expect(() => choosePrincipal({ user: 'a', group: 'b', uid: 1, currentUser: 'x' })).toThrow(UsageError);
  });

  it('under sudo, the rule is for the user who ran sudo, not root', () => {
    expect(choosePrincipal({ uid: 0, currentUser: 'root', sudoUser: 'deploy' })).toEqual({ user: 'deploy' });
    expect(choosePrincipal({ uid: 1000, currentUser: 'pollpray' })).toEqual({ user: 'pollpray' });
  });
});

describe('sudo -ll listing', () => {
  const listing = parseSudoLongListing(`Matching Defaults entries for p on vm:
    env_reset, mail_badpass

User p may run the following commands on vm:

Sudoers entry:
    RunAsUsers: root
    Options: !authenticate
    Commands:
\t/bin/systemctl restart a.service
\t/bin/systemctl restart x\\:y.service

Sudoers entry:
    RunAsUsers: root
    Commands:
\t/bin/systemctl restart b.service
\tNOPASSWD: /bin/systemctl restart c.service
`);
  it.each([
    ['/bin/systemctl restart a.service', true],
    ['/bin/systemctl restart x\\:y.service', true],
    ['/bin/systemctl restart b.service', false],
    ['/bin/systemctl restart c.service', true],
    ['/bin/systemctl restart d.service', false],
  ])('%s passwordless: %s', (command, expected) => expect(passwordless(listing, command)).toBe(expected));
  it.each([
    // Named exactly without NOPASSWD: the forgotten-NOPASSWD mistake, a sure failure of sudo -n.
    ['/bin/systemctl restart b.service', true],
    ['/bin/systemctl restart c.service', false],
    // Not named at all: only sudo's own matching (wildcards, aliases) can tell.
    ['/bin/systemctl restart d.service', false],
  ])('%s needs a password: %s', (command, expected) => expect(needsPassword(listing, command)).toBe(expected));
});

describe('requiretty in sudo -n -ll (doctor)', () => {
  const argv = ['/bin/systemctl', 'restart', 'a.service'];
  const listing = (matching: string, specific = '') => `Matching Defaults entries for p on vm:
    ${matching}
${specific ? `Runas and Command-specific defaults for p:\n${specific}\n` : ''}User p may run the following commands on vm:

Sudoers entry:
    RunAsUsers: root
    Options: !authenticate
    Commands:
\t/bin/systemctl restart a.service
`;
  it.each([
    ['none', listing('env_reset, mail_badpass'), false],
    ['global Defaults requiretty (old RHEL/CentOS)', listing('!visiblepw, always_set_home, match_group_by_gid,\n    requiretty, env_reset'), true],
    ['global requiretty lifted by Defaults:p !requiretty', listing('requiretty, env_reset, !requiretty'), false],
    ['for the command itself', listing('env_reset', '    Defaults!/bin/systemctl requiretty'), true],
    ['for the command itself, wrapped', listing('env_reset', '    Defaults!/bin/systemctl\n    requiretty, !lecture'), true],
    ['for the exact command', listing('env_reset', '    Defaults!/bin/systemctl restart a.service requiretty'), true],
    ['for the same binary with other arguments', listing('env_reset', '    Defaults!/bin/systemctl restart b.service requiretty'), false],
    ['in a list of commands', listing('env_reset', '    Defaults!/bin/true, /bin/systemctl requiretty, !lecture'), true],
    ['for another command', listing('env_reset', '    Defaults!/bin/other\n    requiretty'), false],
    ['for the runas user root', listing('env_reset', '    Defaults>root requiretty'), true],
    ['for another runas user', listing('env_reset', '    Defaults>nobody requiretty'), false],
    ['global, lifted for the command', listing('requiretty', '    Defaults!/bin/systemctl restart a.service\n    !requiretty'), false],
  ])('%s: %s', (_name, text, expected) => expect(requiresTty(text, argv, argv.join(' '))).toBe(expected));
});

describe('ssh remote of a repo URL', () => {
  it.each([
    ['git@github.com:acme/todo.git', { host: 'github.com', user: 'git' }],
    ['github.com-repo-todo:acme/todo.git', { host: 'github.com-repo-todo', user: undefined }],
    ['ssh://git@git.example.com:2222/acme/todo.git', { host: 'git.example.com', port: 2222, user: 'git' }],
    ['https://github.com/acme/todo.git', undefined],
    ['file:///srv/git/todo.git', undefined],
    ['/srv/git/todo.git', undefined],
    ['git@[::1]:acme/todo.git', { host: '::1', user: 'git' }],
    ['[myhost:2222]:acme/todo.git', { host: 'myhost', port: 2222 }],
    ['git+ssh://git@[::1]:2222/acme/todo.git', { host: '::1', port: 2222, user: 'git' }],
  ])('%s', (repo, expected) => expect(sshRemote(repo)).toEqual(expected));
});
