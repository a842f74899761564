/** Faults in the configuration (rows 21, 22, 23's config side, 26 and 53 of the failure-modes table): exit 2, nothing touched. */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parse, stringify } from 'yaml';
import { until } from '../helpers/pollpray-cli.js';
import { requireRoot } from '../helpers/require-env.js';
import { faultWorld, short } from './fault-world.js';

/** Everything a run could touch: the state dir's files and the checkout's HEAD. */
function snapshot(stateDir: string): string {
  const dir = join(stateDir, 'targets', 'app');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') || f.endsWith('.jsonl'))
    .sort()
    .map((f) => `${f}:${readFileSync(join(dir, f), 'utf8')}`)
    .join('\n');
}

describe('config faults', { timeout: 30_000 }, () => {
  it('#21 bad config: a YAML error, an unknown key and timeout: five each exit 2 with file:line key, nothing touched', async () => {
    const f = await faultWorld();
    const head = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const good = readFileSync(f.world.configFile, 'utf8');
    const before = snapshot(f.world.stateDir);
    const broken: Array<[string, RegExp]> = [
      [good.replace('targets:', 'targets: [oops'), /pollpray\.yaml:\d+/],
      [good.replace(/^(\s+)path: /m, '$1pathh: /tmp/x\n$1path: '), /pollpray\.yaml:\d+ targets\.app\.pathh: /],
      [good.replace(/deploy_timeout: \S+/, 'deploy_timeout: five'), /pollpray\.yaml:\d+ targets\.app\.deploy_timeout: must be a duration/],
    ];
    for (const [text, line] of broken) {
      writeFileSync(f.world.configFile, text);
      const r = await f.world.cli(['run']);
      expect(r.exitCode, text).toBe(2);
      expect(r.stderr).toMatch(line);
      expect(r.stderr).toMatch(/fix: /);
    }
    expect(snapshot(f.world.stateDir)).toBe(before);
    expect(f.live()).toBe(short(head));
    expect(f.calls()).toHaveLength(1);

    writeFileSync(f.world.configFile, good);
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    expect(f.live()).toBe(short(await f.origin.head()));
  });

  it('#22 path traversal: a target named ../../etc, a path through .. and a shared path out of the release are rejected at validation', async () => {
    const f = await faultWorld({ strategy: 'releases' });
    const good = readFileSync(f.world.configFile, 'utf8');
    const cases: Array<[string, RegExp]> = [
      [good.replace(/^(\s+)app:/m, "$1'../../etc':"), /targets\.\.\.\/\.\.\/etc: target names must match/],
      [good.replace(/^(\s+)path: (\S+)/m, '$1path: $2/../../../../etc'), /targets\.app\.path: must not contain "\.\."/],
      [good.replace(/^(\s+)strategy: releases/m, "$1strategy: releases\n$1shared: ['../../etc']"), /targets\.app\.shared\[0\]: must be a relative path inside the release/],
    ];
    for (const [text, line] of cases) {
      writeFileSync(f.world.configFile, text);
      const r = await f.world.cli(['run']);
      expect(r.exitCode, text).toBe(2);
      expect(r.stderr).toMatch(line);
    }
    expect(f.world.state('app')).toBeUndefined();
    writeFileSync(f.world.configFile, good);
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
  });

  it('#22 path escaping via symlink: another target in the same real directory, shared/uploads -> /etc and a current that is not pollpray\'s are rejected by validate and run, nothing touched', async () => {
    const f = await faultWorld({ strategy: 'releases' });
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const deployed = readlinkSync(join(f.path, 'current'));
    await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const good = readFileSync(f.world.configFile, 'utf8');
    const config = parse(good) as { targets: Record<string, Record<string, unknown>> };
    const app = config.targets.app as Record<string, unknown>;
    // A second target whose path is a symlink to the first one's.
    const alias = join(f.world.dir, 'alias');
    symlinkSync(f.path, alias);
    config.targets.other = { repo: app.repo, path: alias };
    // shared/uploads linked to /etc.
    app.shared = ['uploads'];
    mkdirSync(join(f.path, 'shared'));
    symlinkSync('/etc', join(f.path, 'shared', 'uploads'));
    // current replaced by a directory, as a hand deploy would leave it.
    renameSync(join(f.path, 'current'), join(f.path, 'current.pollpray'));
    mkdirSync(join(f.path, 'current'));
    writeFileSync(f.world.configFile, stringify(config));
    const expected = [
      /pollpray\.yaml:\d+ targets\.app\.path: \S+\/current is a directory, not pollpray's symlink into releases\/ .*: move it away \(mv \S+\/current \S+\/current\.old\)$/,
      /pollpray\.yaml:\d+ targets\.app\.shared\[0\]: \S+\/shared\/uploads leads through a symlink to the system directory \/etc: every release would write there; point the link at a directory for this app's data/,
      /pollpray\.yaml:\d+ targets\.other\.path: is the same directory as target "app"'s path \S+ once symlinks are resolved \(both are \S+\): give each target a directory of its own$/,
    ];
    const before = snapshot(f.world.stateDir);
    for (const command of ['validate', 'run']) {
      const r = await f.world.cli([command]);
      expect(r.exitCode, `${command}\n${r.stderr}`).toBe(2);
      // One line per problem, in file order, each naming the target's key and the fix.
      const problems = r.stderr.split('\n').filter((l) => /pollpray\.yaml:\d+ /.test(l));
      expect(problems, r.stderr).toHaveLength(expected.length);
      expected.forEach((line, i) => expect(problems[i]).toMatch(line));
    }
    rmSync(join(f.path, 'current'), { recursive: true });
    renameSync(join(f.path, 'current.pollpray'), join(f.path, 'current'));
    rmSync(join(f.path, 'shared'), { recursive: true });
    expect(snapshot(f.world.stateDir)).toBe(before);
    expect(readdirSync(join(f.world.stateDir, 'targets'))).toEqual(['app']);
    expect(readlinkSync(join(f.path, 'current'))).toBe(deployed);
    expect(f.calls()).toHaveLength(1);

    writeFileSync(f.world.configFile, good);
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    expect(f.live()).toBe(short(await f.origin.head()));
  });

  it('#22 a path under a symlinked directory and a shared directory linked to another volume stay allowed', async () => {
    const f = await faultWorld({ strategy: 'releases', target: { shared: ['media'] }, script: 'echo "$POLLPRAY_NEW_SHA" > media/built-by' });
    // /srv -> /data/srv, and shared/media on "another volume": both are the operator's own choice.
    mkdirSync(join(f.world.dir, 'data', 'www', 'app', 'shared'), { recursive: true });
    symlinkSync(join(f.world.dir, 'data', 'www'), join(f.world.dir, 'www'));
    mkdirSync(join(f.world.dir, 'volume', 'media'), { recursive: true });
    symlinkSync(join(f.world.dir, 'volume', 'media'), join(f.path, 'shared', 'media'));

    const v = await f.world.cli(['validate']);
    expect(v.exitCode, v.stderr).toBe(0);
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(await f.origin.head()));
    expect(readdirSync(join(f.world.dir, 'data', 'www', 'app', 'releases'))).toHaveLength(1);
    expect(readFileSync(join(f.world.dir, 'volume', 'media', 'built-by'), 'utf8').trim()).toBe(await f.origin.head());
  });

  it('#26 world-writable config or key: refused with the fix', async () => {
    const f = await faultWorld();
    chmodSync(f.world.configFile, 0o666);
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/world-writable/);
    expect(r.stderr).toMatch(/chmod/);
    expect(f.world.state('app')).toBeUndefined();
    chmodSync(f.world.configFile, 0o640);
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
  });

  it('#53 a config in a world-writable directory, or reached through a symlink in one: validate and run refuse it (exit 2, one line with the fix), nothing touched', async () => {
    const f = await faultWorld();
    // The world dir itself, where the config lives, writable by everyone (no sticky bit).
    chmodSync(f.world.dir, 0o777);
    for (const command of ['validate', 'run']) {
      const r = await f.world.cli([command]);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr.trim()).toBe(
        `pollpray: ${f.world.configFile} is in ${f.world.dir}, which is group- and world-writable (mode 0777): any local user could replace ${f.world.configFile} and make pollpray run their commands (fix: chmod go-w ${f.world.dir})`,
      );
    }
    expect(existsSync(f.world.stateDir)).toBe(false);
    chmodSync(f.world.dir, 0o700);

    // A symlink to the (safe) config, in a directory anyone can write.
    const open = join(f.world.dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o757);
    symlinkSync(f.world.configFile, join(open, 'pollpray.yaml'));
    const viaLink = await f.world.cli(['run'], { env: { POLLPRAY_CONFIG: join(open, 'pollpray.yaml') } });
    expect(viaLink.exitCode, viaLink.stderr).toBe(2);
    expect(viaLink.stderr).toMatch(new RegExp(`^pollpray: \\S+pollpray\\.yaml is in ${open}, which is world-writable \\(mode 0757\\).*\\(fix: chmod o-w ${open}\\)$`, 'm'));
    expect(existsSync(f.world.stateDir)).toBe(false);

    // The same config through a symlink in a sticky directory, the link and the file mine: fine.
    const sticky = join(f.world.dir, 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    symlinkSync(f.world.configFile, join(sticky, 'pollpray.yaml'));
    const ok = await f.world.cli(['run'], { env: { POLLPRAY_CONFIG: join(sticky, 'pollpray.yaml') } });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(f.live()).toBe(short(await f.origin.head()));
  });

  it.skipIf(requireRoot())('#53 a config, a deploy script or a health command owned by another unprivileged user is refused by run (the config: run it as its owner, exit 3; a script: the chown, exit 2); doctor fails the same file with the same words', async () => {
    const f = await faultWorld();
    chownSync(f.world.configFile, 65534, 65534);
    const r = await f.world.cli(['run']);
    // Another user's config is the wrong-user case (exit 3): run as its owner.
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr.trim()).toBe(
      `pollpray: config ${f.world.configFile} is owned by nobody, not root: stopped before reading it (fix: run it as nobody: sudo -u nobody pollpray run)`,
    );
    chownSync(f.world.configFile, 0, 0);

    const deploy = join(f.world.dir, 'deploy.sh');
    chownSync(deploy, 65534, 65534);
    const health = f.world.script('health.sh', 'exit 0');
    chownSync(health, 65534, 65534);
    f.write({ health: { command: [health] } });
    const both = await f.world.cli(['run']);
    expect(both.exitCode, both.stderr).toBe(2);
    const lines = both.stderr.trim().split('\n');
    expect(lines[0]).toBe(`pollpray: 2 files ${f.world.configFile} names could be changed by other local users:`);
    expect(lines[1]).toMatch(new RegExp(`^pollpray:   ${f.world.configFile}:\\d+ targets\\.app\\.deploy: ${deploy} is owned by uid 65534, not by root or root who runs pollpray: that user could change it and run commands as root \\(fix: chown root ${deploy} \\(as root\\)\\)$`));
    expect(lines[2]).toMatch(new RegExp(`^pollpray:   ${f.world.configFile}:\\d+ targets\\.app\\.health\\.command: ${health} is owned by uid 65534`));
    expect(f.calls()).toEqual([]);
    expect(existsSync(f.path)).toBe(false);

    const doctor = await f.world.cli(['doctor', '--json']);
    const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ name: string; status: string; detail: string; fix?: string }> }).checks;
    expect(checks.find((c) => c.name === 'deploy script (app)')).toMatchObject({ status: 'fail', detail: `${deploy} is owned by uid 65534, not by root or root who runs pollpray: that user could change it and run commands as root`, fix: `chown root ${deploy} (as root)` });
    expect(checks.find((c) => c.name === 'file (targets.app.health.command)')).toMatchObject({ status: 'fail', fix: `chown root ${health} (as root)` });
    expect(checks.find((c) => c.name === 'config')).toMatchObject({ status: 'ok' });
  });

  it('#61 a repo URL whose "[" does not enclose the host: validate and run refuse it (exit 2, one line naming the repo key with the fix), nothing touched; git@[::1]:path is accepted', async () => {
    const f = await faultWorld({ target: { repo: 'git@[::1:acme/app.git' } });
    for (const command of ['validate', 'run']) {
      const r = await f.world.cli([command]);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toContain(
        `${f.world.configFile}:${lineOf(f.world.configFile, 'repo:')} targets.app.repo: has a "[" that does not enclose the host: write an IPv6 address as git@[::1]:owner/name.git or ssh://git@[::1]:2222/owner/name.git\n`,
      );
      expect(r.stderr.match(/targets\.app\./g)).toHaveLength(1);
    }
    expect(existsSync(f.world.stateDir)).toBe(false);
    const g = await faultWorld({ target: { repo: 'git@[::1]:acme/app.git' } });
    const v = await g.world.cli(['validate']);
    expect(v.stderr).not.toMatch(/targets\.app\.repo/);
  });

  it('#53 a world-writable deploy script that doctor fails is refused by run, validate and daemon (exit 2) and never runs; a group-writable hook too', async () => {
    const f = await faultWorld();
    const deploy = join(f.world.dir, 'deploy.sh');
    chmodSync(deploy, 0o757);
    const doctor = await f.world.cli(['doctor']);
    expect(doctor.exitCode).toBe(1);
    const doctorLine = doctor.stdout.split('\n').find((l) => /^FAIL\s+deploy script \(app\)/.test(l));
    expect(doctorLine).toMatch(new RegExp(`${deploy} is world-writable \\(mode 0757\\): any local user could change it and run commands as root \\(fix: chmod o-w ${deploy}\\)$`));
    for (const command of [['run'], ['validate'], ['daemon', '--run-now']]) {
      const r = await f.world.cli(command, { timeoutMs: 20_000 });
      expect(r.exitCode, `${command.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim()).toBe(
        `pollpray: ${f.world.configFile}:${lineOf(f.world.configFile, 'deploy:')} targets.app.deploy: ${deploy} is world-writable (mode 0757): any local user could change it and run commands as root (fix: chmod o-w ${deploy})`,
      );
    }
    expect(f.calls()).toEqual([]);
    chmodSync(deploy, 0o755);

    const hook = f.world.script('notify.sh', 'exit 0');
    chmodSync(hook, 0o775);
    f.write({}, { notify: [{ command: [hook] }] });
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`notify\\[0\\]\\.command: ${hook} is group-writable \\(mode 0775\\): any member of its group could change it and run commands as root \\(fix: chmod g-w ${hook}\\)$`));
    chmodSync(hook, 0o755);
    const ok = await f.world.cli(['run']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(f.calls()).toHaveLength(1);
  });
});

describe('config faults: what sudo runs as root', { timeout: 60_000 }, () => {
  it('#93 a supervisorctl or service binary, or a supervisor_config, other users could change: run and validate refuse it (exit 2) and nothing runs; doctor and sudoers fail it, also for a directory on its way', async () => {
    const f = await faultWorld();
    const line = (key: string) => lineOf(f.world.configFile, `${key}:`);
    const supervisorctl = f.world.script('supervisorctl', 'exit 0');
    chmodSync(supervisorctl, 0o757);
    f.write({ restart: ['app'], service_manager: 'supervisorctl' }, { supervisorctl });
    for (const command of [['run'], ['validate']]) {
      const r = await f.world.cli(command);
      expect(r.exitCode, `${command.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim()).toBe(
        `pollpray: ${f.world.configFile}:${line('supervisorctl')} supervisorctl: ${supervisorctl} is world-writable (mode 0757): any local user could change it and run commands as root through the sudo rule (fix: chmod o-w ${supervisorctl})`,
      );
    }
    expect(f.calls()).toEqual([]);
    const rule = await f.world.cli(['sudoers', '--user', 'nobody']);
    expect(rule.exitCode).toBe(2);
    expect(rule.stderr).toContain(`pollpray: supervisorctl: ${supervisorctl} is world-writable`);
    expect(rule.stdout).not.toContain('NOPASSWD');
    chmodSync(supervisorctl, 0o755);

    // root's file, but in a directory anyone can write: anyone could put another one in its place.
    const open = join(f.world.dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const conf = join(open, 'supervisord.conf');
    writeFileSync(conf, '[supervisorctl]\n', { mode: 0o644 });
    f.write({ restart: ['app'], service_manager: 'supervisorctl' }, { supervisorctl, supervisor_config: conf });
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr.trim()).toMatch(new RegExp(`^pollpray: ${f.world.configFile}:${line('supervisor_config')} supervisor_config: ${conf} is in ${open}, which is group- and world-writable \\(mode 0777\\).* \\(fix: chmod go-w ${open}\\)$`));
    expect(f.calls()).toEqual([]);
    const doctor = await f.world.cli(['doctor']);
    expect(doctor.exitCode).toBe(1);
    expect(doctor.stdout).toMatch(new RegExp(`^FAIL\\s+service manager\\s+supervisor_config: ${conf} is in ${open}, which is group- and world-writable.*\\(fix: chmod go-w ${open}\\)$`, 'm'));
    const rule2 = await f.world.cli(['sudoers', '--user', 'nobody']);
    expect(rule2.exitCode).toBe(2);
    expect(rule2.stderr).toContain(`pollpray: supervisor_config: ${conf} is in ${open}`);
    chmodSync(open, 0o755);

    const service = f.world.script('service', 'exit 0');
    chmodSync(service, 0o775);
    f.write({ restart: ['app'], service_manager: 'service' }, { service });
    const v = await f.world.cli(['validate']);
    expect(v.exitCode).toBe(2);
    expect(v.stderr.trim()).toBe(
      `pollpray: ${f.world.configFile}:${line('service')} service: ${service} is group-writable (mode 0775): any member of its group could change it and run commands as root through the sudo rule (fix: chmod g-w ${service})`,
    );
    chmodSync(service, 0o755);
    expect((await f.world.cli(['validate'])).exitCode).toBe(0);
  });
});

describe('config faults: the keys that decide which commits deploy', { timeout: 60_000 }, () => {
  it('#95 an allowed_signers file, or a file in a GnuPG keyring, that other users could change: run and validate refuse it (exit 2) and nothing deploys; doctor fails it', async () => {
    const f = await faultWorld();
    const signers = join(f.world.dir, 'allowed_signers');
    writeFileSync(signers, '');
    chmodSync(signers, 0o666);
    f.write({ verify: { mode: 'ssh', allowed_signers: signers } });
    const line = (key: string) => lineOf(f.world.configFile, `${key}:`);
    for (const command of [['run'], ['validate']]) {
      const r = await f.world.cli(command);
      expect(r.exitCode, `${command.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim()).toBe(
        `pollpray: ${f.world.configFile}:${line('allowed_signers')} targets.app.verify.allowed_signers: ${signers} is group- and world-writable (mode 0666): any local user could change it and change what pollpray trusts (fix: chmod go-w ${signers})`,
      );
    }
    chmodSync(signers, 0o644);

    // The keyring directory is safe, but gpg reads the files in it: one anyone can write
    // lets them add their own key, and their signed commits deploy.
    const keyring = join(f.world.dir, 'keyring');
    mkdirSync(join(keyring, 'public-keys.d'), { recursive: true, mode: 0o700 });
    writeFileSync(join(keyring, 'trustdb.gpg'), '', { mode: 0o600 });
    const pubring = join(keyring, 'pubring.kbx');
    writeFileSync(pubring, '');
    chmodSync(pubring, 0o666);
    f.write({ verify: { mode: 'gpg', keyring } });
    for (const command of [['run'], ['validate']]) {
      const r = await f.world.cli(command);
      expect(r.exitCode, `${command.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim()).toBe(
        `pollpray: ${f.world.configFile}:${line('keyring')} targets.app.verify.keyring: ${pubring} is group- and world-writable (mode 0666): any local user could change it and change what pollpray trusts (fix: chmod go-w ${pubring})`,
      );
    }
    const doctor = await f.world.cli(['doctor']);
    expect(doctor.exitCode).toBe(1);
    expect(doctor.stdout).toMatch(new RegExp(`^FAIL\\s+file \\(targets\\.app\\.verify\\.keyring\\)\\s+${pubring} is group- and world-writable`, 'm'));
    chmodSync(pubring, 0o600);
    const deeper = join(keyring, 'public-keys.d', 'pubring.db');
    writeFileSync(deeper, '');
    chmodSync(deeper, 0o620);
    const v = await f.world.cli(['validate']);
    expect(v.exitCode).toBe(2);
    expect(v.stderr).toContain(`targets.app.verify.keyring: ${deeper} is group-writable (mode 0620)`);
    chmodSync(deeper, 0o600);
    expect((await f.world.cli(['validate'])).exitCode).toBe(0);
    expect(f.calls()).toEqual([]);
  });
});

describe('config faults: secret files', { timeout: 60_000 }, () => {
  it('#96 a serve.secret_file or coordination.password_file every local user can read: validate, run and serve refuse it (exit 2, one line with the chmod) and print no secret; its group may read it', async () => {
    const f = await faultWorld();
    const secretValue = 'webhook-secret-0123456789abcdef';
    const secretFile = join(f.world.dir, 'webhook.secret');
    writeFileSync(secretFile, `${secretValue}\n`);
    chmodSync(secretFile, 0o644);
    const line = (key: string) => lineOf(f.world.configFile, `${key}:`);
    f.write({}, { serve: { secret_file: secretFile, allow: ['localhost/acme/app'], listen: '127.0.0.1:1' } });
    for (const command of [['validate'], ['run'], ['serve']]) {
      const r = await f.world.cli(command, { timeoutMs: 20_000 });
      expect(r.exitCode, `${command.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim()).toBe(
        `pollpray: ${f.world.configFile}:${line('secret_file')} serve.secret_file: ${secretFile} is readable by every local user (mode 0644): anyone could read the secret in it (fix: chmod o-r ${secretFile})`,
      );
      expect(r.stdout + r.stderr).not.toContain(secretValue);
    }
    const doctor = await f.world.cli(['doctor']);
    expect(doctor.stdout).toMatch(/^FAIL\s+file \(serve\.secret_file\)\s+.* is readable by every local user/m);
    expect(f.calls()).toEqual([]);
    chmodSync(secretFile, 0o640);

    const passwordFile = join(f.world.dir, 'redis.password');
    writeFileSync(passwordFile, 'redis-password-0123456789\n');
    chmodSync(passwordFile, 0o604);
    f.write({}, { coordination: { redis: 'redis://127.0.0.1:1/0', group: 'g', password_file: passwordFile } });
    const v = await f.world.cli(['validate']);
    expect(v.exitCode).toBe(2);
    expect(v.stderr.trim()).toBe(
      `pollpray: ${f.world.configFile}:${line('password_file')} coordination.password_file: ${passwordFile} is readable by every local user (mode 0604): anyone could read the secret in it (fix: chmod o-r ${passwordFile})`,
    );
    chmodSync(passwordFile, 0o600);
    const ok = await f.world.cli(['validate']);
    expect(ok.exitCode, ok.stderr).toBe(0);
  });
});

describe('config faults: what the programs the config names start', { timeout: 60_000 }, () => {
  it('#99 a step named by a bare program whose PATH has a directory others can write before it, or a deploy script whose #! interpreter others can change: run and validate refuse it (exit 2) and nothing runs; doctor fails it', async () => {
    const f = await faultWorld();
    const line = (text: string) => lineOf(f.world.configFile, text);
    // `true` is found in /usr/bin or /bin, but anyone could plant a `true` in the first directory.
    const shared = join(f.world.dir, 'shared-bin');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    f.write({ deploy: undefined, env: { PATH: `${shared}:/usr/bin:/bin` }, steps: [{ name: 'build', run: ['true'] }] });
    for (const command of [['run'], ['validate']]) {
      const r = await f.world.cli(command);
      expect(r.exitCode, `${command.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim()).toBe(
        `pollpray: ${f.world.configFile}:${line('- "true"')} targets.app.steps[0].run: ${shared} is group- and world-writable (mode 0777): any local user could write in it and run commands as root (fix: chmod go-w ${shared})`,
      );
    }
    const doctor = await f.world.cli(['doctor']);
    expect(doctor.stdout).toMatch(new RegExp(`^FAIL\\s+file \\(targets\\.app\\.steps\\[0\\]\\.run\\)\\s+${shared} is group- and world-writable`, 'm'));
    chmodSync(shared, 0o755);
    expect((await f.world.cli(['validate'])).exitCode).toBe(0);
    // A PATH directory not made yet, in a directory anyone can write: anyone can make it.
    const notYet = join(shared, 'not-yet', 'bin');
    chmodSync(shared, 0o777);
    f.write({ deploy: undefined, env: { PATH: `${notYet}:/usr/bin:/bin` }, steps: [{ name: 'build', run: ['true'] }] });
    const missing = await f.world.cli(['validate']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain(`targets.app.steps[0].run: ${shared} is group- and world-writable (mode 0777)`);
    chmodSync(shared, 0o755);
    expect((await f.world.cli(['validate'])).exitCode).toBe(0);

    // The deploy script is safe, the interpreter its #! line names is not.
    const interpreter = join(f.world.dir, 'venv-sh');
    copyFileSync('/bin/sh', interpreter);
    chmodSync(interpreter, 0o757);
    const deploy = join(f.world.dir, 'deploy.sh');
    writeFileSync(deploy, `#!${interpreter}\necho "$POLLPRAY_NEW_SHA" >> "${f.world.dir}/calls.log"\n`);
    f.write({ deploy });
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(
      `pollpray: ${f.world.configFile}:${line('deploy:')} targets.app.deploy: ${interpreter} is world-writable (mode 0757): any local user could change it and run commands as root (fix: chmod o-w ${interpreter})`,
    );
    const doctor2 = await f.world.cli(['doctor']);
    expect(doctor2.stdout).toMatch(new RegExp(`^FAIL\\s+file \\(targets\\.app\\.deploy\\)\\s+${interpreter} is world-writable`, 'm'));
    expect(f.calls()).toEqual([]);
    chmodSync(interpreter, 0o755);
    const ok = await f.world.cli(['run']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(f.calls()).toHaveLength(1);
  });
});

describe('config faults: trust-host', { timeout: 60_000 }, () => {
  it('#53 trust-host refuses what run refuses (a world-writable deploy script or known_hosts, a --known-hosts in a directory anyone can write) before scanning or writing anything', async () => {
    const f = await faultWorld();
    f.write({ repo: 'ssh://git@127.0.0.1:9/app.git' });
    const deploy = join(f.world.dir, 'deploy.sh');
    chmodSync(deploy, 0o757);
    const r = await f.world.cli(['trust-host', '127.0.0.1:9', '--yes']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(
      `pollpray: ${f.world.configFile}:${lineOf(f.world.configFile, 'deploy:')} targets.app.deploy: ${deploy} is world-writable (mode 0757): any local user could change it and run commands as root (fix: chmod o-w ${deploy})`,
    );
    chmodSync(deploy, 0o755);

    const knownHosts = join(f.world.dir, 'known_hosts');
    writeFileSync(knownHosts, '');
    chmodSync(knownHosts, 0o666);
    f.write({ repo: 'ssh://git@127.0.0.1:9/app.git', ssh: { known_hosts: knownHosts } });
    const kh = await f.world.cli(['trust-host', '127.0.0.1:9', '--yes']);
    expect(kh.exitCode, kh.stderr).toBe(2);
    expect(kh.stderr).toMatch(new RegExp(`targets\\.app\\.ssh\\.known_hosts: ${knownHosts} is group- and world-writable \\(mode 0666\\).*\\(fix: chmod go-w ${knownHosts}\\)$`));

    const open = join(f.world.dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o757);
    const given = join(open, 'known_hosts');
    const flag = await f.world.cli(['trust-host', '127.0.0.1:9', '--yes', '--known-hosts', given]);
    expect(flag.exitCode, flag.stderr).toBe(2);
    expect(flag.stderr.trim()).toBe(
      `pollpray: --known-hosts ${given} is in ${open}, which is world-writable (mode 0757): any local user could replace ${given} and make ssh trust their host key (fix: chmod o-w ${open})`,
    );
    expect(existsSync(given)).toBe(false);
  });
});

describe('config faults: a state or log dir other users can write', { timeout: 90_000 }, () => {
  it('#55 a group-writable state dir or a world-writable log dir: run, rollback, serve, daemon, pause and resume refuse it (exit 2, one line with the chmod), nothing written; doctor fails it; a log dir under a root-owned group-writable dir (/var/log on Ubuntu) is fine', async () => {
    const f = await faultWorld();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const deployed = await f.origin.head();
    const stateFile = join(f.world.stateDir, 'targets', 'app', 'state.json');
    const before = readFileSync(stateFile, 'utf8');
    await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const harm = 'plant the files and links pollpray reads back and writes through as root';

    chmodSync(f.world.stateDir, 0o770);
    for (const command of [['run'], ['rollback', 'app'], ['serve'], ['daemon', '--run-now'], ['pause', 'app'], ['resume', 'app']]) {
      const r = await f.world.cli(command, { timeoutMs: 20_000 });
      expect(r.exitCode, `${command.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim(), command.join(' ')).toBe(
        `pollpray: ${f.world.configFile}:${lineOf(f.world.configFile, 'state_dir:')} state_dir: ${f.world.stateDir} is group-writable (mode 0770): any member of its group could write in it and ${harm} (fix: chmod g-w ${f.world.stateDir})`,
      );
    }
    expect(readFileSync(stateFile, 'utf8')).toBe(before);
    expect(f.calls()).toHaveLength(1);
    expect(f.live()).toBe(short(deployed));
    const doctor = await f.world.cli(['doctor']);
    expect(doctor.exitCode).toBe(1);
    expect(doctor.stdout).toMatch(new RegExp(`^FAIL\\s+dir \\(state_dir\\)\\s+${f.world.stateDir} is group-writable \\(mode 0770\\)`, 'm'));
    // Looking still works: status names the dir and its fix, without reading in it (row 59).
    const status = await f.world.cli(['status']);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain(`(fix: chmod g-w ${f.world.stateDir})`);
    chmodSync(f.world.stateDir, 0o750);

    chmodSync(f.world.logDir, 0o757);
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(
      `pollpray: ${f.world.configFile}:${lineOf(f.world.configFile, `dir: ${f.world.logDir}`)} log.dir: ${f.world.logDir} is world-writable (mode 0757): any local user could write in it and ${harm} (fix: chmod o-w ${f.world.logDir})`,
    );
    chmodSync(f.world.logDir, 0o750);

    // Like /var/log on Ubuntu (root:syslog 0775): root chose who is in that group.
    const varLog = join(f.world.dir, 'var-log');
    mkdirSync(join(varLog, 'pollpray'), { recursive: true, mode: 0o750 });
    chmodSync(varLog, 0o775);
    f.write({}, { log: { dir: join(varLog, 'pollpray'), level: 'debug' } });
    const ok = await f.world.cli(['run']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(f.calls()).toHaveLength(2);
  });
});

describe('config faults: looking at a state dir other users can write', { timeout: 90_000 }, () => {
  it('#59 status and history on a state dir others can write: they name it with the chmod and read nothing in it (a planted FIFO cannot hang them), change nothing, exit 0', async () => {
    const f = await faultWorld();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const deployed = await f.origin.head();
    chmodSync(f.world.stateDir, 0o770);
    // What a member of that group can do: move the real per-target dirs away and plant their own files.
    const targets = join(f.world.stateDir, 'targets');
    renameSync(targets, join(f.world.stateDir, 'targets-real'));
    mkdirSync(join(targets, 'app'), { recursive: true });
    for (const name of ['state.json', 'history.jsonl']) execFileSync('mkfifo', [join(targets, 'app', name)]);
    const before = listing(f.world.stateDir);
    const problem = `state_dir: ${f.world.stateDir} is group-writable (mode 0770): any member of its group could write in it and plant the files and links pollpray reads back and writes through as root`;
    const fix = `chmod g-w ${f.world.stateDir}`;

    const text = await f.world.cli(['status'], { timeoutMs: 10_000 });
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^app\s+main\s+-\s+not read\s+-\s+host fault$/m);
    expect(text.stdout).toContain(`${problem}; not read, and pollpray run refuses it until fixed (fix: ${fix})`);
    const json = await f.world.cli(['status', '--json'], { timeoutMs: 10_000 });
    expect(json.exitCode, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { problems: unknown[]; targets: Array<Record<string, unknown>> };
    expect(report.problems).toEqual([{ key: 'state_dir', path: f.world.stateDir, message: problem.replace('state_dir: ', ''), fix }]);
    expect(report.targets[0]).toMatchObject({ target: 'app', deployed_commit: null, last_result: null, host_fault: true });
    expect(report.targets[0]?.last_error).toContain(`(fix: ${fix})`);

    const history = await f.world.cli(['history'], { timeoutMs: 10_000 });
    expect(history.exitCode, history.stderr).toBe(0);
    expect(history.stdout).toContain(`${problem}; not read, and pollpray run refuses it until fixed (fix: ${fix})`);
    const historyJson = await f.world.cli(['history', '--json'], { timeoutMs: 10_000 });
    expect(JSON.parse(historyJson.stdout)).toEqual({ version: 1, entries: [], problems: report.problems });
    expect(listing(f.world.stateDir)).toEqual(before);

    // Fixed: the state is read again, and the problem is gone.
    rmSync(targets, { recursive: true });
    renameSync(join(f.world.stateDir, 'targets-real'), targets);
    chmodSync(f.world.stateDir, 0o750);
    const ok = JSON.parse((await f.world.cli(['status', '--json'])).stdout) as { problems: unknown[]; targets: Array<Record<string, unknown>> };
    expect(ok.problems).toEqual([]);
    expect(ok.targets[0]).toMatchObject({ deployed_commit: deployed, last_result: 'deployed', host_fault: false });
    // An invalid state file is only reported by status: moving it aside is run's, which checks the dir first.
    writeFileSync(join(targets, 'app', 'state.json'), '{"failures":null');
    const corrupt = await f.world.cli(['status']);
    expect(corrupt.stdout).toMatch(/state file .*state\.json is corrupt/);
    expect(readdirSync(join(targets, 'app')).filter((n) => n.startsWith('state.json'))).toEqual(['state.json']);
  });
});

/** Every path under `dir` with its type: what a status that moved or wrote anything would change. */
function listing(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort().map((p) => {
    const st = lstatSync(join(dir, p));
    return `${p} ${st.isFIFO() ? 'fifo' : st.isDirectory() ? 'dir' : 'file'} ${st.size}`;
  });
}

describe('config faults: commands that only look', { timeout: 60_000 }, () => {
  it('#53 status, history and pause still work on a target whose deploy script needs fixing; sudoers refuses a systemctl other users could change', async () => {
    const f = await faultWorld();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    chmodSync(join(f.world.dir, 'deploy.sh'), 0o757);
    expect((await f.world.cli(['run'])).exitCode).toBe(2);
    for (const command of [['status'], ['history'], ['pause', 'app']]) {
      const r = await f.world.cli(command);
      expect(r.exitCode, `${command.join(' ')}: ${r.stderr}`).toBe(0);
    }
    expect(f.world.state('app')).toMatchObject({ paused: true });

    const systemctl = f.world.script('systemctl', 'exit 0');
    chmodSync(systemctl, 0o757);
    f.write({ restart: ['app.service'] }, { systemctl });
    const r = await f.world.cli(['sudoers', '--user', 'nobody']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toBe(
      `pollpray: systemctl: ${systemctl} is world-writable (mode 0757): any local user could change it and run commands as root through this sudo rule (fix: chmod o-w ${systemctl})`,
    );
  });
});

describe('config faults: ssh files other users could change', { timeout: 60_000 }, () => {
  it('#53 an ssh config others can write: run refuses it, test-ssh and doctor fail it without letting ssh read it (its ProxyCommand never runs)', async () => {
    const f = await faultWorld();
    const marker = join(f.world.dir, 'proxy-ran');
    const sshConfig = join(f.world.dir, 'ssh_config');
    writeFileSync(sshConfig, `Host *\n  ProxyCommand touch ${marker}\n`);
    chmodSync(sshConfig, 0o646);
    f.write({ repo: 'ssh://git@127.0.0.1:9/app.git', ssh: { config: sshConfig } });
    const run = await f.world.cli(['run']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`targets\\.app\\.ssh\\.config: ${sshConfig} is world-writable \\(mode 0646\\).*\\(fix: chmod o-w ${sshConfig}\\)$`, 'm'));
    const t = await f.world.cli(['test-ssh']);
    expect(t.exitCode).toBe(1);
    expect(t.stdout).toMatch(new RegExp(`^app: FAIL ssh config: ${sshConfig} is world-writable \\(mode 0646\\): any local user could change it and make ssh run their commands \\(fix: chmod o-w ${sshConfig}\\)$`, 'm'));
    expect(t.stdout).toMatch(/^app: warn connection: not tried/m);
    const d = await f.world.cli(['doctor']);
    expect(d.exitCode).toBe(1);
    expect(d.stdout).toMatch(/^FAIL\s+file \(targets\.app\.ssh\.config\)/m);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('config faults in a long-running daemon', { timeout: 60_000 }, () => {
  it('#53 a deploy script that becomes world-writable while the daemon runs is refused before the next cycle runs it; a reload of a config others can write is refused', async () => {
    const f = await faultWorld();
    f.write({}, { schedule: '* * * * * *' });
    const daemon = f.world.spawn(['daemon']);
    let stderr = '';
    daemon.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    onTestFinished(async () => {
      daemon.kill('SIGTERM');
      await daemon;
    });
    await until(() => f.calls().length === 1, 20_000, 'the first scheduled deploy');
    const deploy = join(f.world.dir, 'deploy.sh');
    chmodSync(deploy, 0o757);
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    await until(() => stderr.includes(`targets.app.deploy: ${deploy} is world-writable (mode 0757)`), 20_000, 'the refusal');
    expect(stderr).toMatch(new RegExp(`\\(fix: chmod o-w ${deploy}\\)`));
    expect(f.calls()).toHaveLength(1);
    chmodSync(deploy, 0o755);
    await until(() => f.calls().length === 2, 20_000, 'the deploy once the script is safe again');
    expect(f.calls()[1]).toMatch(new RegExp(`^${next} `));

    // A reload reads the config through the same check: one others can write is not taken.
    chmodSync(f.world.configFile, 0o666);
    daemon.kill('SIGHUP');
    await until(() => stderr.includes('config reload failed, keeping the running config'), 20_000, 'the refused reload');
    expect(stderr).toMatch(new RegExp(`config reload failed, keeping the running config: ${f.world.configFile} is group- and world-writable \\(mode 0666\\)`));
    chmodSync(f.world.configFile, 0o640);
  });
});

/** The 1-based line of the first line containing `text`. */
function lineOf(file: string, text: string): number {
  return readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;
}
