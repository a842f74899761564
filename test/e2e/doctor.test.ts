import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeWorld } from '../helpers/pollpray-cli.js';
import { makeSudoFixture, requireSudoFixture } from '../helpers/sudo-user.js';
import { makeUserWorld } from '../helpers/user-world.js';

const line = (stdout: string, name: string) => stdout.split('\n').find((l) => new RegExp(`^(ok|WARN|FAIL)\\s+${name}\\s`).test(l));

describe.skipIf(requireSudoFixture())('pollpray doctor, as the unprivileged user', () => {
  it('reports a key others can read and a missing sudo rule, each with its fix, and exits 1', async () => {
    const sudo = await makeSudoFixture();
    const { world, cli, writeConfig } = await makeUserWorld(sudo);
    const key = join(world.dir, 'deploy_key');
    writeFileSync(key, 'not really a key\n', { mode: 0o644 });
    chmodSync(key, 0o644);
    const deploy = world.script('deploy.sh', 'exit 0');
    await writeConfig({ ssh: { key }, deploy });
    await sudo.removeRule();

    const r = await cli(['doctor']);
    expect(r.exitCode).toBe(1);
    expect(line(r.stdout, 'key \\(app\\)')?.replace(/\s+/g, ' ')).toBe(
      `FAIL key (app) ${key} is mode 0644: every local user can read the deploy key (and ssh refuses it) (fix: chmod 600 ${key})`,
    );
    expect(line(r.stdout, 'sudo \\(app\\.service\\)')).toMatch(
      new RegExp(`^FAIL .* no sudo rule lets pollpray-test run sudo -n ${sudo.systemctl} restart app\\.service without a password \\(fix: sudo pollpray sudoers --install --user pollpray-test`),
    );
    expect(line(r.stdout, 'deploy script \\(app\\)')).toMatch(/^ok /);
    expect(line(r.stdout, 'user')).toMatch(/^ok .*running as pollpray-test/);
  });

  it('passes once the key is 0600 and the rule is there; a rule without NOPASSWD fails again', async () => {
    const sudo = await makeSudoFixture();
    const { world, cli, writeConfig } = await makeUserWorld(sudo);
    const key = join(world.dir, 'deploy_key');
    // A real key without a passphrase: doctor loads it as ssh would (ssh-keygen -y).
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'doctor test', '-f', key]);
    await writeConfig({ ssh: { key } });

    const good = await cli(['doctor']);
    expect(good.exitCode, good.stdout).toBe(0);
    expect(good.stdout).not.toMatch(/^FAIL/m);
    expect(line(good.stdout, 'key \\(app\\)')).toMatch(/^ok .*is mode 0600, owned by pollpray-test/);
    expect(line(good.stdout, 'sudo \\(app\\.service\\)')).toMatch(/^ok .*is allowed without a password/);

    await sudo.ruleWithoutNopasswd();
    const prompting = await cli(['doctor', '--json']);
    const checks = (JSON.parse(prompting.stdout) as { checks: Array<{ name: string; status: string; fix?: string }> }).checks;
    expect(prompting.exitCode).toBe(1);
    expect(checks.find((c) => c.name === 'sudo (app.service)')).toMatchObject({ status: 'fail', fix: expect.stringContaining('NOPASSWD') });
  });
});

describe.skipIf(requireSudoFixture())('pollpray doctor: who owns what pollpray writes, and paths it cannot create', () => {
  it("as root against the user's checkout and state: FAIL ownership with the command to run instead", async () => {
    const sudo = await makeSudoFixture();
    const u = await makeUserWorld(sudo);
    expect((await u.cli(['run'])).exitCode).toBe(0);
    expect(line((await u.cli(['doctor'])).stdout, 'ownership')).toMatch(/^ok /);

    const r = await u.world.cli(['doctor']);
    expect(r.exitCode).toBe(1);
    expect(line(r.stdout, 'ownership \\(app\\)')?.replace(/\s+/g, ' ')).toBe(
      `FAIL ownership (app) checkout ${u.path} (targets.app.path) belongs to pollpray-test, not root: pollpray run stops there (exit 3) (fix: run it as pollpray-test: sudo -u pollpray-test pollpray run)`,
    );
    expect(r.stdout).toMatch(new RegExp(`^FAIL\\s+ownership\\s+state dir ${u.world.stateDir} \\(state_dir\\) belongs to pollpray-test`, 'm'));
  });

  it('a target path whose parent the user cannot write fails the path and disk checks (before: ok)', async () => {
    const sudo = await makeSudoFixture();
    const u = await makeUserWorld(sudo);
    const locked = join(u.world.dir, 'www');
    mkdirSync(locked);
    chmodSync(locked, 0o555);
    const r = await u.cli(['doctor']);
    expect(r.exitCode).toBe(1);
    expect(line(r.stdout, 'path \\(app\\)')?.replace(/\s+/g, ' ')).toBe(
      `FAIL path (app) ${u.path} does not exist and pollpray-test cannot create it in ${locked}: the first deploy would fail (fix: install -d -o pollpray-test -m 0755 ${u.path} (as root), or set targets.app.path)`,
    );
    expect(r.stdout).toMatch(new RegExp(`^FAIL\\s+disk\\s+${u.path} does not exist and pollpray-test cannot create it`, 'm'));
    expect(r.stdout).not.toMatch(new RegExp(`^ok\\s+disk\\s.*${u.path}`, 'm'));
  });
});

describe('pollpray doctor, any user', () => {
  it('an invalid config is the first failure, and the host checks still run', async () => {
    const world = makeWorld();
    writeFileSync(world.configFile, 'targets:\n  app:\n    repo: x\n    pathh: /srv/app\n');
    const r = await world.cli(['doctor']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout.split('\n')[0]).toMatch(/^FAIL\s+config\s+.*pollpray\.yaml:4 targets\.app\.pathh.*\(fix: fix the config \(pollpray validate/);
    expect(r.stdout).toMatch(/^(ok|WARN)\s+git\s+git \d+\.\d+/m);
  });

  it("a filesystem with less free space than a releases target's min_free_space fails, naming the key", async () => {
    const world = makeWorld();
    const path = join(world.dir, 'app');
    world.writeConfig({ targets: { app: { repo: 'file:///nowhere.git', path, strategy: 'releases', min_free_space: '900TB' } } });
    const r = await world.cli(['doctor']);
    expect(r.exitCode).toBe(1);
    expect(line(r.stdout, 'disk')).toMatch(
      new RegExp(`^FAIL\\s+disk\\s+.* free for ${path}.*: below targets\\.app\\.min_free_space \\(900TB\\), so its next deploy is refused \\(fix: .*lower targets\\.app\\.min_free_space\\)$`),
    );
  });

  it('a world-writable deploy script fails with the chmod that fixes it', async () => {
    const world = makeWorld();
    const deploy = world.script('deploy.sh', 'exit 0');
    chmodSync(deploy, 0o777);
    world.writeConfig({ targets: { app: { repo: 'file:///nowhere.git', path: join(world.dir, 'app'), deploy } } });
    const r = await world.cli(['doctor']);
    expect(r.exitCode).toBe(1);
    expect(line(r.stdout, 'deploy script \\(app\\)')).toMatch(new RegExp(`^FAIL .*world-writable.*\\(fix: chmod go-w ${deploy}\\)$`));
  });
});
