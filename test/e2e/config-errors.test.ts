import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeWorld } from '../helpers/pollpray-cli.js';
import { makeSudoFixture, requireSudoFixture } from '../helpers/sudo-user.js';
import { makeUserWorld } from '../helpers/user-world.js';

/** Each bad config, run through the real CLI: exit 2, a line naming file:line and key, nothing touched. */
describe('a bad config stops everything with exit 2', () => {
  const cases: Array<[string, (path: string, script: string) => string, RegExp]> = [
    ['YAML syntax error', (p) => `targets:\n  app:\n    repo: "unclosed\n    path: ${p}\n`, /pollpray\.yaml:\d+: YAML syntax error/],
    ['unknown key with did-you-mean', (p, s) => `targets:\n  app:\n    repo: file:///x.git\n    path: ${p}\n    deploy: ${s}\n    brnach: main\n`, /pollpray\.yaml:6 targets\.app\.brnach: unknown key \(did you mean "branch"\?\)/],
    ['wrong type', (p) => `concurrency: many\ntargets:\n  app:\n    repo: file:///x.git\n    path: ${p}\n`, /pollpray\.yaml:1 concurrency: .*number/],
    ['bad duration', (p) => `targets:\n  app:\n    repo: file:///x.git\n    path: ${p}\n    deploy_timeout: 5 minutes\n`, /pollpray\.yaml:5 targets\.app\.deploy_timeout: must be a duration like 30s, 10m, 2h or 14d/],
    ['unsafe target name', (p) => `targets:\n  ../../etc:\n    repo: file:///x.git\n    path: ${p}\n`, /pollpray\.yaml:2 targets\.\.\.\/\.\.\/etc: target names must match/],
    ['branch read as an option', (p) => `targets:\n  app:\n    repo: file:///x.git\n    path: ${p}\n    branch: "--upload-pack=touch /tmp/pwned"\n`, /targets\.app\.branch: is not a valid branch name: it starts with "-"/],
    ['relative path', () => `targets:\n  app:\n    repo: file:///x.git\n    path: www/app\n`, /pollpray\.yaml:4 targets\.app\.path: must be an absolute path/],
  ];

  it.each(cases)('%s', async (_name, yaml, message) => {
    const world = makeWorld();
    const path = join(world.dir, 'www', 'app');
    const marker = join(world.dir, 'script-ran');
    const script = world.script('deploy.sh', `touch ${marker}`);
    writeFileSync(world.configFile, yaml(path, script), { mode: 0o640 });
    for (const command of [['run'], ['validate'], ['status']]) {
      const r = await world.cli(command);
      expect(r.exitCode, `${command[0]}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/fix: /);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(path)).toBe(false);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(world.stateDir)).toBe(false);
    expect(existsSync(world.logDir)).toBe(false);
  });

  it('an unknown target name on the command line is a usage error', async () => {
    const world = makeWorld();
    world.writeConfig({ targets: { app: { repo: 'file:///x.git', path: join(world.dir, 'app') } } });
    const r = await world.cli(['run', 'nope']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/no target named "nope" .* \(fix: known targets: app\)/);
  });

  it('no config anywhere says where it looked and how to make one', async () => {
    const world = makeWorld();
    const r = await world.cli(['run'], { env: { POLLPRAY_CONFIG: '' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/pollpray init/);
  });
});

describe('validate checks what the config names on this host', () => {
  it('a deploy script that is not executable fails validate with its line and the chmod (exit 2)', async () => {
    const world = makeWorld();
    const script = world.script('deploy.sh', 'exit 0');
    chmodSync(script, 0o644);
    world.writeConfig({ targets: { app: { repo: 'file:///x.git', path: join(world.dir, 'www', 'app'), deploy: script } } });
    const r = await world.cli(['validate']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`pollpray\\.yaml:\\d+ targets\\.app\\.deploy: ${script} is not executable by root \\(fix: chmod \\+x ${script}\\)`));
    chmodSync(script, 0o755);
    expect((await world.cli(['validate'])).exitCode).toBe(0);
  });

  it.skipIf(requireSudoFixture())('a target path whose parent the user cannot write fails validate (before: ok, then the first clone failed)', async () => {
    const sudo = await makeSudoFixture();
    const u = await makeUserWorld(sudo);
    const locked = join(u.world.dir, 'www');
    mkdirSync(locked);
    chmodSync(locked, 0o555);
    const r = await u.cli(['validate']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`targets\\.app\\.path: ${u.path} does not exist and pollpray-test cannot create it in ${locked} \\(fix: install -d -o pollpray-test ${u.path} as root\\)`));
  });
});
