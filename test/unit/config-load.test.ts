import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { HostFacts } from '../../src/config/normalise.js';
import { ConfigError } from '../../src/errors.js';

const host: HostFacts = { uid: 1000, home: '/home/deploy', hostname: 'web-01' };

function configFile(yaml: string, mode = 0o640): string {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-load-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'pollpray.yaml');
  writeFileSync(file, yaml);
  chmodSync(file, mode);
  return file;
}

function loadError(yaml: string): { file: string; err: ConfigError; lines: string[] } {
  const file = configFile(yaml);
  try {
    loadConfig(file, host);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { file, err, lines: err.message.split('\n') };
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

/** The problem lines without the file prefix, for readable expectations. */
function problems(yaml: string): string[] {
  const { file, lines } = loadError(yaml);
  return lines.slice(1).map((l) => l.replace(`${file}:`, ''));
}

const TARGET = 'targets:\n  todo:\n    repo: git@example.com:acme/todo.git\n    path: /srv/todo\n';

describe('loadConfig reports each problem with its line and key', () => {
  it.each([
    ['an unknown key, with the nearest known key', `${TARGET}    brnach: main\n`, '5 targets.todo.brnach: unknown key (did you mean "branch"?)'],
    ['an unknown key with nothing close', `${TARGET}    frobnicate: yes\n`, '5 targets.todo.frobnicate: unknown key'],
    ['an unknown top-level key', `concurency: 4\n${TARGET}`, '1 concurency: unknown key (did you mean "concurrency"?)'],
    ['a kebab-case key', `${TARGET}    deploy-timeout: 5m\n`, '5 targets.todo.deploy-timeout: unknown key (did you mean "deploy_timeout"?)'],
    ['a wrong type, saying what is expected', `concurrency: four\n${TARGET}`, '1 concurrency: must be a number, got "four"'],
    ['a list where a mapping belongs', `log: [info]\n${TARGET}`, '1 log: must be a mapping of keys, got a list'],
    ['an empty value where a mapping belongs', `${TARGET}    ssh:\n`, '5 targets.todo.ssh: must be a mapping of keys, got nothing (an empty value)'],
    ['a duration with words', `${TARGET}    deploy_timeout: 5 minutes\n`, '5 targets.todo.deploy_timeout: must be a duration like 30s, 10m, 2h or 14d'],
    ['a duration spelled out', `splay: five\n${TARGET}`, '1 splay: must be a duration like 30s, 10m, 2h or 14d'],
    ['an unknown enum value', `${TARGET}    strategy: blue-green\n`, '5 targets.todo.strategy: must be one of in-place, releases, got "blue-green"'],
    ['a number out of range', `concurrency: 0\n${TARGET}`, '1 concurrency: must be at least 1'],
    ['a fractional count', `concurrency: 1.5\n${TARGET}`, '1 concurrency: must be a whole number, got 1.5'],
    ['a branch that git would read as an option', `${TARGET}    branch: --upload-pack=x\n`, '5 targets.todo.branch: is not a valid branch name: it starts with "-" and could be read as an option'],
    ['a branch with ".."', `${TARGET}    branch: a..b\n`, '5 targets.todo.branch: is not a valid branch name: it contains ".."'],
    ['a relative path', 'targets:\n  todo:\n    repo: x\n    path: srv/todo\n', '4 targets.todo.path: must be an absolute path (starting with /)'],
    ['an unsafe target name, at the name', 'targets:\n  Todo App:\n    repo: x\n    path: /srv/x\n', '2 targets.Todo App: target names must match [a-z0-9][a-z0-9._-]* (lowercase letters, digits, ".", "_", "-")'],
    ['a missing required key, at its target', 'targets:\n  todo:\n    path: /srv/x\n', '2 targets.todo.repo: is required'],
    ['a repo URL starting with "-"', 'targets:\n  todo:\n    repo: -oProxyCommand=x\n    path: /srv/x\n', '3 targets.todo.repo: must not start with "-" (it would be read as an option)'],
    ['an scp-like repo URL with an unclosed "["', 'targets:\n  todo:\n    repo: git@[::1:acme/app.git\n    path: /srv/x\n', '3 targets.todo.repo: has a "[" that does not enclose the host: write an IPv6 address as git@[::1]:owner/name.git or ssh://git@[::1]:2222/owner/name.git'],
    ['a unit name with an argument', `${TARGET}    restart: ["app.service --now"]\n`, '5 targets.todo.restart[0]: must be a systemd unit name like app.service (or, with service_manager service or supervisorctl, an init script or program name): no spaces, globs, options or arguments'],
    ['a unit name systemctl would read as an option', `${TARGET}    restart: ["-Hx@evil.service"]\n`, '5 targets.todo.restart[0]: must be a systemd unit name like app.service (or, with service_manager service or supervisorctl, an init script or program name): no spaces, globs, options or arguments'],
    ['a unit name starting with "--"', `${TARGET}    restart: ["--host=evil.service"]\n`, '5 targets.todo.restart[0]: must be a systemd unit name like app.service (or, with service_manager service or supervisorctl, an init script or program name): no spaces, globs, options or arguments'],
    ['a list item on its own line', `${TARGET}    restart:\n      - ok.service\n      - "*"\n`, '7 targets.todo.restart[1]: must be a systemd unit name like app.service (or, with service_manager service or supervisorctl, an init script or program name): no spaces, globs, options or arguments'],
    [
      'a bare program name while systemd restarts the target',
      `${TARGET}    restart: [app]\n`,
      '5 targets.todo.restart[0]: must be a systemd unit name like app.service (no spaces, globs, options or arguments); on a host without systemd set service_manager: service or supervisorctl',
    ],
    [
      'supervisorctl all (every program) as a restart entry',
      `service_manager: supervisorctl\n${TARGET}    restart: [all]\n`,
      '6 targets.todo.restart[0]: must be a supervisord program name like app or group:app (not all, no globs, spaces or options)',
    ],
    [
      'a supervisor config path with a space (it would split the sudoers rule)',
      `supervisor_config: /etc/super visor.conf\n${TARGET}`,
      '1 supervisor_config: must not contain spaces or control characters (it is one word of the sudoers rule)',
    ],
    ['an unknown service manager', `service_manager: runit\n${TARGET}`, '1 service_manager: must be one of systemd, service, supervisorctl, got "runit"'],
    ['a shared path escaping the release', `${TARGET}    strategy: releases\n    shared: [../etc]\n`, '6 targets.todo.shared[0]: must be a relative path inside the release, without ".."'],
    ['health with neither http nor command', `${TARGET}    health: { retries: 2 }\n`, '5 targets.todo.health: needs exactly one of http or command'],
    ['a bad environment variable name', `${TARGET}    env:\n      1BAD: x\n`, '6 targets.todo.env.1BAD: is not an allowed name (must match /^[A-Za-z_][A-Za-z0-9_]*$/)'],
    ['a missing targets section', 'concurrency: 2\n', '1 targets: is missing: add at least one target (pollpray init writes an example)'],
    ['an empty targets mapping', 'targets: {}\n', '1 targets: is empty: add at least one target (pollpray init writes an example)'],
    ['a list instead of a mapping at the top', '- a\n- b\n', '1: must be a mapping of keys, got a list'],
  ])('%s', (_name, yaml, expected) => {
    expect(problems(yaml)).toEqual([expected]);
  });

  it('reports every problem at once, in file order, under a summary line', () => {
    const { file, lines, err } = loadError(
      ['concurrency: many', 'targets:', '  todo:', '    repo: git@x:a/b.git', '    brnach: main', '    path: var/www', '    deploy_timeout: 5 minutes', ''].join('\n'),
    );
    expect(lines).toEqual([
      `${file} has 4 problems:`,
      `${file}:1 concurrency: must be a number, got "many"`,
      `${file}:5 targets.todo.brnach: unknown key (did you mean "branch"?)`,
      `${file}:6 targets.todo.path: must be an absolute path (starting with /)`,
      `${file}:7 targets.todo.deploy_timeout: must be a duration like 30s, 10m, 2h or 14d`,
    ]);
    expect(err.hint).toBe('fix the lines above, then run pollpray validate');
    expect(err.exitCode).toBe(2);
  });

  it('reports a YAML syntax error with its line and nothing else', () => {
    const { file, lines } = loadError('targets:\n  todo:\n    repo: x\n   path: /a\n');
    expect(lines[0]).toBe(`${file} has 1 problem:`);
    expect(lines[1]).toMatch(new RegExp(`^${file}:4: YAML syntax error: `));
  });

  it('treats a duplicated key as a syntax error at the duplicate', () => {
    expect(problems(`${TARGET}    path: /srv/other\n`)).toEqual(['5: YAML syntax error: Map keys must be unique']);
  });

  it.each([
    ['an empty file', ''],
    ['a file with only comments', '# nothing yet\n'],
  ])('refuses %s with a pointer to pollpray init', (_name, yaml) => {
    const { file, err } = loadError(yaml);
    expect(err.message).toBe(`${file} is empty: it needs at least a targets: section`);
    expect(err.hint).toContain('pollpray init');
  });

  it('refuses a world-writable config and says how to fix it', () => {
    const file = configFile(TARGET, 0o646);
    expect(() => loadConfig(file, host)).toThrow(
      expect.objectContaining({ name: 'ConfigError', message: expect.stringContaining('is world-writable'), hint: `chmod o-w ${file}` }),
    );
  });

  it('a missing file is a ConfigError naming it', () => {
    expect(() => loadConfig('/nonexistent/pollpray.yaml', host)).toThrow('config file /nonexistent/pollpray.yaml does not exist');
  });
});

describe('cross-field rules', () => {
  it.each([
    [
      'two targets on the same directory',
      'targets:\n  a:\n    repo: x\n    path: /srv/app\n  b:\n    repo: y\n    path: /srv/app/\n',
      ['7 targets.b.path: same directory as target "a": each target needs its own path'],
    ],
    [
      'a target nested in another',
      'targets:\n  a:\n    repo: x\n    path: /srv/app\n  b:\n    repo: y\n    path: /srv/app/static\n',
      ['7 targets.b.path: is inside target "a"\'s path /srv/app: targets must not nest'],
    ],
    [
      'keep_releases and shared with the default strategy',
      `${TARGET}    keep_releases: 3\n    shared: [media]\n`,
      [
        '5 targets.todo.keep_releases: only applies to strategy: releases (this target uses in-place, the default): remove it or set strategy: releases',
        '6 targets.todo.shared: only applies to strategy: releases (this target uses in-place, the default): remove it or set strategy: releases',
      ],
    ],
    [
      'keep_releases with strategy in-place',
      `${TARGET}    strategy: in-place\n    keep_releases: 3\n`,
      ['6 targets.todo.keep_releases: only applies to strategy: releases (this target uses in-place): remove it or set strategy: releases'],
    ],
    [
      'verify mode ssh without allowed_signers',
      `${TARGET}    verify:\n      mode: ssh\n`,
      ['6 targets.todo.verify.mode: ssh needs allowed_signers (a file of trusted signing keys, as for git gpg.ssh.allowedSignersFile)'],
    ],
    [
      'verify mode gpg with allowed_signers',
      `${TARGET}    verify:\n      mode: gpg\n      allowed_signers: /etc/signers\n`,
      ['7 targets.todo.verify.allowed_signers: only applies to mode: ssh (use keyring for gpg)'],
    ],
  ])('%s', (_name, yaml, expected) => {
    expect(problems(yaml)).toEqual(expected);
  });

  const step = (yaml: string) => `${TARGET}    steps:\n      - name: s\n${yaml}`;
  const refused = (key: string, placeholder: string, variable: string) =>
    `${key}: {{${placeholder}}} carries text from the repository (whoever can push chooses it) and is refused in ${
      key.includes('.env.') ? 'an env value, where a variable such as BASH_ENV or NODE_OPTIONS is read as code' : 'a command, where a shell or interpreter could run it'
    }: use $${variable} in your script instead`;
  it.each([
    ['subject after env sh -c', step(`        run: [env, sh, -c, "echo {{subject}}"]\n`), 'targets.todo.steps[0].run[3]', 'subject', 'POLLPRAY_SUBJECT'],
    ['subject after nice bash -c', step(`        run: [nice, bash, -c, "echo {{subject}}"]\n`), 'targets.todo.steps[0].run[3]', 'subject', 'POLLPRAY_SUBJECT'],
    ['tag after timeout 5s sh -c', step(`        run: [timeout, 5s, sh, -c, "deploy {{tag}}"]\n`), 'targets.todo.steps[0].run[4]', 'tag', 'POLLPRAY_TAG'],
    ['tag in python3 -c', step(`        run: [python3, -c, "print('{{tag}}')"]\n`), 'targets.todo.steps[0].run[2]', 'tag', 'POLLPRAY_TAG'],
    ['subject as a plain argument', step(`        run: [./notify, "{{subject}}"]\n`), 'targets.todo.steps[0].run[1]', 'subject', 'POLLPRAY_SUBJECT'],
    ['branch as a plain argument', step(`        run: [./notify, "--branch={{branch}}"]\n`), 'targets.todo.steps[0].run[1]', 'branch', 'POLLPRAY_BRANCH'],
    ['step output in a handler command', step(`        run: [make]\n        on_failure: { run: [perl, -e, "warn q({{step.output}})"] }\n`), 'targets.todo.steps[0].on_failure.run[2]', 'step.output', 'POLLPRAY_STEP_OUTPUT'],
    ['subject in an env value (BASH_ENV is sourced by bash)', step(`        run: [./build.sh]\n        env: { BASH_ENV: "{{subject}}" }\n`), 'targets.todo.steps[0].env.BASH_ENV', 'subject', 'POLLPRAY_SUBJECT'],
    ['tag inside an env value (NODE_OPTIONS)', step(`        run: [node, app.js]\n        env: { NODE_OPTIONS: "--title={{tag}}" }\n`), 'targets.todo.steps[0].env.NODE_OPTIONS', 'tag', 'POLLPRAY_TAG'],
    ['subject with spaces in the braces, in an on_success command', step(`        run: [make]\n        on_success: { run: [ruby, -e, "{{ subject }}"] }\n`), 'targets.todo.steps[0].on_success.run[2]', 'subject', 'POLLPRAY_SUBJECT'],
  ])('refuses %s, naming the variable to use instead', (_name, yaml, key, placeholder, variable) => {
    expect(problems(yaml)).toEqual([expect.stringMatching(/^\d+ /)]);
    expect(problems(yaml)[0]?.replace(/^\d+ /, '')).toBe(refused(key, placeholder, variable));
  });

  it('names the line of the refused placeholder', () => {
    expect(problems(step(`        run: [sh, -c, "echo {{subject}}"]\n`))[0]).toMatch(/^7 targets\.todo\.steps\[0\]\.run\[2\]: /);
  });

  it('allows placeholders pollpray checks itself in commands and env values, and commit text in messages', () => {
    const file = configFile(
      step(
        [
          '        run: [sh, -c, "echo {{sha}} {{short_sha}} {{previous_sha}} {{target}} {{step.name}}"]',
          '        env: { DEPLOYED: "{{short_sha}} of {{target}}" }',
          '        on_failure: { message: "{{subject}} {{tag}} {{branch}} {{step.output}}" }',
          '',
        ].join('\n'),
      ),
    );
    expect(loadConfig(file, host).targets[0]?.steps).toHaveLength(1);
  });

  it('allows releases keys with strategy releases and ssh verify with its signers file', () => {
    const file = configFile(`${TARGET}    strategy: releases\n    keep_releases: 3\n    shared: [media]\n    verify: { mode: ssh, allowed_signers: signers }\n`);
    expect(loadConfig(file, host).targets[0]?.keepReleases).toBe(3);
  });
});

describe('repository keys (submodules, lfs, clone, paths)', () => {
  it.each([
    ['    paths: [../etc]\n', /paths\[0\]: must be a relative path inside the repository/],
    ['    paths: ["*.md"]\n', /paths\[0\]: must be a plain path: no globs/],
    ['    paths: [-x]\n', /paths\[0\]: must be a relative path/],
    ['    paths: [/site]\n', /paths\[0\]: must be a relative path/],
    ['    clone: { filter: "tree:0" }\n', /clone\.filter: must be blob:none or blob:limit=<size>/],
    ['    clone: { depth: 0 }\n', /clone\.depth: /],
    ['    submodules: yes\n', /submodules: /],
    ['    lfs: sometimes\n', /lfs: /],
    ['    lfs: { url: "ftp://lfs.example.com/acme/app" }\n', /^5 targets\.todo\.lfs\.url: must be an https:\/\/, http:\/\/, ssh:\/\/ or file:\/\/ URL/],
    ['    lfs: { url: "https://lfs.example.com/acme app" }\n', /^5 targets\.todo\.lfs\.url: must not contain spaces or control characters/],
    ['    lfs: { url: "-oProxyCommand=x:y" }\n', /^5 targets\.todo\.lfs\.url: must not start with "-"/],
    ['    lfs: { url: "file://relative/store" }\n', /^5 targets\.todo\.lfs\.url: .*file:\/\/\/absolute/],
    ['    lfs: { url: "/srv/lfs-store" }\n', /^5 targets\.todo\.lfs\.url: must be an https:\/\/, http:\/\/, ssh:\/\/ or file:\/\/ URL/],
    ['    lfs: { url: "https://" }\n', /^5 targets\.todo\.lfs\.url: is not a valid URL/],
    ['    lfs: sometimes\n', /^5 targets\.todo\.lfs: must be true, false or \{ url: <the LFS server's URL> \}$/],
    ['    lfs: { server: "https://lfs.example.com/x" }\n', /^5 targets\.todo\.lfs: must be true, false or \{ url: /],
    ['    lfs: {}\n', /^5 targets\.todo\.lfs: must be true, false or \{ url: /],
  ])('%s is refused with its key', (extra, message) => {
    expect(problems(`${TARGET}${extra}`).join('\n')).toMatch(message);
  });

  it('exits 2 (a config error) for a bad lfs.url', () => {
    expect(loadError(`${TARGET}    lfs: { url: "ftp://x/y" }\n`).err.exitCode).toBe(2);
  });

  it.each([
    ['https://lfs.example.com/acme/app', 'https://lfs.example.com/acme/app'],
    ['http://127.0.0.1:8080/lfs', 'http://127.0.0.1:8080/lfs'],
    ['ssh://git@lfs.example.com/acme/app.git', 'ssh://git@lfs.example.com/acme/app.git'],
    ['git@lfs.example.com:acme/app.git', 'git@lfs.example.com:acme/app.git'],
    ['file:///srv/lfs/app.git', 'file:///srv/lfs/app.git'],
  ])('lfs: { url: %s } turns LFS on with that server', (url, expected) => {
    const target = loadConfig(configFile(`${TARGET}    lfs: { url: "${url}" }\n`), host).targets[0]!;
    expect(target.lfs).toBe(true);
    expect(target.lfsUrl).toBe(expected);
    expect(target.lfsCredentials).toBeUndefined();
  });

  it('lfs: true and false keep their meaning, without a server of their own', () => {
    for (const value of [true, false]) {
      const target = loadConfig(configFile(`${TARGET}    lfs: ${value}\n`), host).targets[0]!;
      expect(target.lfs).toBe(value);
      expect(target.lfsUrl).toBeUndefined();
    }
  });
});

describe('a valid config normalises', () => {
  it('to durations in ms, defaults filled in and relative paths resolved against the file', () => {
    const file = configFile(`
state_dir: /var/lib/pollpray
log: { dir: /var/log/pollpray, level: debug, retention: 7d, compress: false, format: json }
concurrency: 2
splay: 30s
schedule: "*/10 * * * *"
defaults: { branch: develop, deploy_timeout: 5m, on_force_push: refuse, max_attempts: 4, clone_timeout: 1h }
targets:
  todo:
    repo: git@github.com-repo-todo:acme/todo.git
    ssh: { key: keys/todo_ed25519, known_hosts: /etc/pollpray/known_hosts, connect_timeout: 5s }
    path: /var/www/projects/todo_django
    strategy: releases
    keep_releases: 3
    shared: [media, .env]
    deploy: deploy-scripts/django-gunicorn.sh
    restart: [todo_gunicorn.service]
    health: { http: "http://127.0.0.1:8000/healthz", timeout: 30s, retries: 5 }
    verify: { mode: ssh, allowed_signers: /etc/pollpray/allowed_signers }
    env: { DJANGO_SETTINGS_MODULE: todo.settings }
    submodules: recursive
    lfs: true
    clone: { filter: "blob:none", depth: 50 }
    paths: [site/, docs]
    clone_timeout: 45m
  blog:
    repo: git@github.com:acme/blog.git
    branch: main
    path: /var/www/blog
    deploy: /opt/deploy/blog.sh
    deploy_timeout: 90s
`);
    const dir = join(file, '..');
    const config = loadConfig(file, host);
    expect(config).toEqual({
      file,
      stateDir: '/var/lib/pollpray',
      log: { dir: '/var/log/pollpray', level: 'debug', retentionMs: 7 * 86_400_000, retentionDays: 7, compress: false, format: 'json' },
      concurrency: 2,
      splayMs: 30_000,
      schedule: '*/10 * * * *',
      systemctl: '/usr/bin/systemctl',
      hostId: 'web-01',
      coordination: undefined,
      targets: [
        {
          name: 'todo',
          repo: 'git@github.com-repo-todo:acme/todo.git',
          ssh: { key: join(dir, 'keys/todo_ed25519'), knownHosts: '/etc/pollpray/known_hosts', port: undefined, user: undefined, config: undefined, connectTimeoutMs: 5000 },
          branch: 'develop',
          path: '/var/www/projects/todo_django',
          strategy: 'releases',
          keepReleases: 3,
          shared: ['media', '.env'],
          deploy: join(dir, 'deploy-scripts/django-gunicorn.sh'),
          deployTimeoutMs: 300_000,
          gitTimeoutMs: 120_000,
          restart: ['todo_gunicorn.service'],
          serviceManager: { kind: 'systemd', binary: '/usr/bin/systemctl' },
          health: { http: 'http://127.0.0.1:8000/healthz', command: undefined, expectStatus: 200, body: undefined, timeoutMs: 30_000, retries: 5, intervalMs: 2000 },
          verify: { mode: 'ssh', allowedSigners: '/etc/pollpray/allowed_signers', keyring: undefined },
          env: { DJANGO_SETTINGS_MODULE: 'todo.settings' },
          secretEnv: [],
          onForcePush: 'refuse',
          maxAttempts: 4,
          minFreeSpaceBytes: 100 * 1024 ** 2,
          cloneTimeoutMs: 45 * 60_000,
          submodules: true,
          lfs: true,
          clone: { filter: 'blob:none', depth: 50 },
          paths: ['site/', 'docs'],
        },
        {
          name: 'blog',
          repo: 'git@github.com:acme/blog.git',
          ssh: { key: undefined, knownHosts: '/var/lib/pollpray/known_hosts', port: undefined, user: undefined, config: undefined, connectTimeoutMs: 10_000 },
          branch: 'main',
          path: '/var/www/blog',
          strategy: 'in-place',
          keepReleases: 5,
          shared: [],
          deploy: '/opt/deploy/blog.sh',
          deployTimeoutMs: 90_000,
          gitTimeoutMs: 120_000,
          restart: [],
          serviceManager: { kind: 'systemd', binary: '/usr/bin/systemctl' },
          health: undefined,
          verify: undefined,
          env: {},
          secretEnv: [],
          onForcePush: 'refuse',
          maxAttempts: 4,
          minFreeSpaceBytes: 100 * 1024 ** 2,
          cloneTimeoutMs: 60 * 60_000,
          submodules: false,
          lfs: false,
          clone: {},
          paths: [],
        },
      ],
      secretEnv: [],
      notify: [],
      heartbeatTimeoutMs: 10_000,
    });
  });

  it('uses per-user state and log dirs for a non-root user', () => {
    const config = loadConfig(configFile(TARGET), host);
    expect(config.stateDir).toBe('/home/deploy/.local/state/pollpray');
    expect(config.log.dir).toBe('/home/deploy/.local/state/pollpray/log');
  });

  it('a non-root user without a home directory must set state_dir: one line saying so, never a path under "undefined"', () => {
    expect(() => loadConfig(configFile(TARGET), { ...host, home: undefined })).toThrow(/state_dir: not set, and this user has no home directory.*/);
  });
});
