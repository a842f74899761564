/**
 * The cross-field rules one by one, on schema-valid configs: which key each finding
 * points at and what it tells the user to do. (loadConfig's tests cover the wiring.)
 */
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../src/config/report.js';
import {
  atLeastOneTarget,
  branchOrTags,
  coordinationSettings,
  deployOrSteps,
  distinctPaths,
  releasesOnlyKeys,
  restartNames,
  ruleFindings,
  RULES,
  stepTemplates,
  supervisorSettings,
  verifyTrustFile,
  type Rule,
} from '../../src/config/rules.js';
import type { RawConfig } from '../../src/config/schema.js';

const t = (extra: Record<string, unknown> = {}) => ({ repo: 'git@example.com:acme/app.git', path: '/srv/app', ...extra });
const raw = (targets: Record<string, unknown>, top: Record<string, unknown> = {}) => ({ targets, ...top }) as unknown as RawConfig;
const lines = (rule: Rule, config: RawConfig) => rule(config).map((f: Finding) => `${f.path.join('.')}${f.at === 'key' ? ' (key)' : ''}: ${f.message}`);

describe('config rules', () => {
  it('at least one target', () => {
    expect(lines(atLeastOneTarget, raw({}))).toEqual(['targets (key): is empty: add at least one target (pollpray init writes an example)']);
    expect(lines(atLeastOneTarget, raw({ a: t() }))).toEqual([]);
  });

  it.each([
    [{ a: t({ path: '/srv/app' }), b: t({ path: '/srv/app/' }) }, ['targets.b.path: same directory as target "a": each target needs its own path']],
    [{ a: t({ path: '/srv/app' }), b: t({ path: '/srv//app/../app' }) }, ['targets.b.path: same directory as target "a": each target needs its own path']],
    [{ a: t({ path: '/srv/app' }), b: t({ path: '/srv/app/sub' }) }, ['targets.b.path: is inside target "a"\'s path /srv/app: targets must not nest']],
    [{ a: t({ path: '/srv/app/sub' }), b: t({ path: '/srv/app' }) }, ['targets.b.path: contains target "a"\'s path /srv/app/sub: targets must not nest']],
    [{ a: t({ path: '/srv/app' }), b: t({ path: '/srv/app2' }), c: t({ path: '/srv/app' }) }, ['targets.c.path: same directory as target "a": each target needs its own path']],
    [{ a: t({ path: '/srv/a' }), b: t({ path: '/srv/b' }), c: t({ path: '/srv/a/x' }) }, ['targets.c.path: is inside target "a"\'s path /srv/a: targets must not nest']],
    [{ a: t({ path: '/srv/a' }), b: t({ path: '/srv/a/x' }), c: t({ path: '/srv/a/x/y' }) }, ['targets.b.path: is inside target "a"\'s path /srv/a: targets must not nest', 'targets.c.path: is inside target "a"\'s path /srv/a: targets must not nest']],
    [{ a: t({ path: '/' }), b: t({ path: '/srv' }) }, ['targets.b.path: is inside target "a"\'s path /: targets must not nest']],
  ])('distinct paths %#', (targets, want) => {
    expect(lines(distinctPaths, raw(targets))).toEqual(want);
  });

  it('releases-only keys on an in-place target name the strategy and whether it is the default', () => {
    expect(lines(releasesOnlyKeys, raw({ a: t({ keep_releases: 3, shared: ['x'], min_free_space: '1G' }), b: t({ strategy: 'in-place', keep_releases: 2 }), c: t({ strategy: 'releases', keep_releases: 2 }) }))).toEqual([
      'targets.a.keep_releases (key): only applies to strategy: releases (this target uses in-place, the default): remove it or set strategy: releases',
      'targets.a.shared (key): only applies to strategy: releases (this target uses in-place, the default): remove it or set strategy: releases',
      'targets.a.min_free_space (key): only applies to strategy: releases (this target uses in-place, the default): remove it or set strategy: releases',
      'targets.b.keep_releases (key): only applies to strategy: releases (this target uses in-place): remove it or set strategy: releases',
    ]);
  });

  it.each([
    [{ mode: 'ssh' }, ['targets.a.verify.mode: ssh needs allowed_signers (a file of trusted signing keys, as for git gpg.ssh.allowedSignersFile)']],
    [{ mode: 'ssh', allowed_signers: '/k', keyring: '/g' }, ['targets.a.verify.keyring (key): only applies to mode: gpg (use allowed_signers for ssh)']],
    [{ mode: 'gpg', keyring: '/g', allowed_signers: '/k' }, ['targets.a.verify.allowed_signers (key): only applies to mode: ssh (use keyring for gpg)']],
    [{ mode: 'gpg', keyring: '/g' }, []],
    [{ mode: 'ssh', allowed_signers: '/k' }, []],
  ])('verify %j', (verify, want) => {
    expect(lines(verifyTrustFile, raw({ a: t({ verify }) }))).toEqual(want);
    expect(lines(verifyTrustFile, raw({ a: t() }))).toEqual([]);
  });

  it('branch or tags, deploy or steps', () => {
    expect(lines(branchOrTags, raw({ a: t({ branch: 'main', tags: 'v*' }), b: t({ tags: 'v*' }), c: t({ branch: 'main' }) }))).toEqual([
      'targets.a.tags (key): a target follows either branch or tags: remove one of them',
    ]);
    expect(lines(deployOrSteps, raw({ a: t({ deploy: '/d', steps: [] }), b: t({ deploy: '/d' }), c: t({ steps: [] }) }))).toEqual([
      'targets.a.steps (key): a target has either deploy (one script) or steps (a pipeline): remove one',
    ]);
  });

  it('step templates: run, env, hooks; a string run is not checked as argv; messages may carry repository text', () => {
    const steps = [
      { name: 's', run: ['x', '{{sha}}', '{{branch}}'], env: { A: '{{subject}}', B: '{{sha}}' } },
      { name: 'h', run: 'make {{branch}}', on_success: { run: ['notify', '{{tag}}'], message: '{{subject}} {{typo}}' }, on_failure: { message: '{{step.output}}', run: ['n', '{{nope}}'] } },
    ];
    expect(lines(stepTemplates, raw({ a: t({ steps }) }))).toEqual([
      'targets.a.steps.0.run.2: {{branch}} carries text from the repository (whoever can push chooses it) and is refused in a command, where a shell or interpreter could run it: use $POLLPRAY_BRANCH in your script instead',
      'targets.a.steps.0.env.A: {{subject}} carries text from the repository (whoever can push chooses it) and is refused in an env value, where a variable such as BASH_ENV or NODE_OPTIONS is read as code: use $POLLPRAY_SUBJECT in your script instead',
      'targets.a.steps.1.on_success.run.1: {{tag}} carries text from the repository (whoever can push chooses it) and is refused in a command, where a shell or interpreter could run it: use $POLLPRAY_TAG in your script instead',
      'targets.a.steps.1.on_success.message: unknown placeholder {{typo}} (known: {{target}} {{sha}} {{short_sha}} {{branch}} {{tag}} {{previous_sha}} {{subject}} {{step.name}} {{step.output}})',
      'targets.a.steps.1.on_failure.run.1: unknown placeholder {{nope}} (known: {{target}} {{sha}} {{short_sha}} {{branch}} {{tag}} {{previous_sha}} {{subject}} {{step.name}} {{step.output}})',
    ]);
    expect(lines(stepTemplates, raw({ a: t({ steps: [{ name: 'x', run: ['a', '{{bad}}'], env: { E: '{{worse}}' } }] }) }))).toEqual([
      'targets.a.steps.0.run.1: unknown placeholder {{bad}} (known: {{target}} {{sha}} {{short_sha}} {{branch}} {{tag}} {{previous_sha}} {{subject}} {{step.name}} {{step.output}})',
      'targets.a.steps.0.env.E: unknown placeholder {{worse}} (known: {{target}} {{sha}} {{short_sha}} {{branch}} {{tag}} {{previous_sha}} {{subject}} {{step.name}} {{step.output}})',
    ]);
  });

  it.each([
    [{ redis: 'redis://127.0.0.1:6379/0' }, []],
    [{ redis: 'not a url' }, ['coordination.redis: is not a valid URL (redis://[user:password@]host:port/db)']],
    [{ redis: 'redis://:pa%73s@127.0.0.1:6379', password_file: '/p' }, ['coordination.password_file (key): the redis URL already has a password: keep one of the two (password_file keeps it out of the config)']],
    [{ redis: 'redis://127.0.0.1:6379', password_file: '/p' }, []],
    [{ redis: 'redis://:pw@127.0.0.1:6379' }, []],
    [{ redis: 'not a url', password_file: '/p' }, ['coordination.redis: is not a valid URL (redis://[user:password@]host:port/db)']],
    [{ redis: 'redis://127.0.0.1:6379', lease: '999ms' }, ['coordination.lease: must be at least 1s (the lease is renewed every third of it while a deploy runs)']],
    [{ redis: 'redis://127.0.0.1:6379', lease: '1s' }, []],
  ])('coordination %j', (coordination, want) => {
    expect(lines(coordinationSettings, raw({ a: t() }, { coordination }))).toEqual(want);
    expect(lines(coordinationSettings, raw({ a: t() }))).toEqual([]);
  });

  it('restart names are judged by the target\'s manager, then the file\'s, then systemd', () => {
    expect(lines(restartNames, raw({ a: t({ restart: ['app.service', 'nginx'] }) }))).toHaveLength(1);
    expect(lines(restartNames, raw({ a: t({ restart: ['app.service', 'nginx'] }) }))[0]).toMatch(/^targets\.a\.restart\.1: must be a systemd unit name/);
    expect(lines(restartNames, raw({ a: t({ restart: ['nginx'] }) }, { service_manager: 'service' }))).toEqual([]);
    expect(lines(restartNames, raw({ a: t({ restart: ['nginx'], service_manager: 'supervisorctl' }) }))).toEqual([]);
    expect(lines(restartNames, raw({ a: t({ restart: ['nginx'], service_manager: 'systemd' }) }, { service_manager: 'service' }))).toHaveLength(1);
  });

  it('supervisor_config needs a supervisorctl target somewhere', () => {
    const msg = 'supervisor_config (key): only applies to service_manager: supervisorctl (no target uses it): remove it or set service_manager';
    expect(lines(supervisorSettings, raw({ a: t() }, { supervisor_config: '/etc/s.conf' }))).toEqual([msg]);
    expect(lines(supervisorSettings, raw({ a: t({ service_manager: 'service' }) }, { supervisor_config: '/etc/s.conf', service_manager: 'service' }))).toEqual([msg]);
    expect(lines(supervisorSettings, raw({ a: t({ service_manager: 'supervisorctl' }) }, { supervisor_config: '/etc/s.conf' }))).toEqual([]);
    expect(lines(supervisorSettings, raw({ a: t() }, { supervisor_config: '/etc/s.conf', service_manager: 'supervisorctl' }))).toEqual([]);
    expect(lines(supervisorSettings, raw({ a: t() }))).toEqual([]);
  });

  it('ruleFindings runs every rule by default and only the given ones when asked', () => {
    const config = raw({ a: t({ branch: 'main', tags: 'v*', deploy: '/d', steps: [] }) });
    expect(RULES).toHaveLength(10);
    expect(ruleFindings(config).map((f) => f.path.join('.'))).toEqual(['targets.a.tags', 'targets.a.steps']);
    expect(ruleFindings(config, [deployOrSteps]).map((f) => f.path.join('.'))).toEqual(['targets.a.steps']);
  });
});
