/**
 * Restart, health check and rollback as the cycle and `pollpray rollback` run them: real
 * scripts in a temp dir, the restart through real `sudo -n` (the test runs as root; the
 * service manager's binary is a script recording what it was asked to restart).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loggedRecords } from '../helpers/log-file.js';
import { loadConfig } from '../../src/config/load.js';
import type { Target } from '../../src/config/normalise.js';
import { restartAndCheck, restartUnits, rollBackTo } from '../../src/deploy/go-live.js';
import type { Prepared, Strategy, Version } from '../../src/deploy/strategy.js';
import { HealthCheckError, SudoError } from '../../src/errors.js';
import { requireBinary, requireRoot } from '../helpers/require-env.js';

const OLD = 'a'.repeat(40);
const NEW = 'b'.repeat(40);

function world(opts: { healthy?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-golive-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const events = join(dir, 'events');
  const script = (name: string, body: string) => {
    const file = join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };
  const deploy = script('deploy.sh', `echo "deploy rollback=$POLLPRAY_ROLLBACK old=$POLLPRAY_OLD_SHA new=$POLLPRAY_NEW_SHA dir=$POLLPRAY_RELEASE_DIR dry=$POLLPRAY_DRY_RUN" >> ${events}`);
  const health = script('health.sh', `echo health >> ${events}\nexit ${opts.healthy === false ? 1 : 0}`);
  const manager = script('service', `echo "service $*" >> ${events}`);
  const file = join(dir, 'pollpray.yaml');
  writeFileSync(
    file,
    `state_dir: ${join(dir, 'state')}\nservice_manager: service\ntargets:\n  app:\n    repo: git@example.com:acme/app.git\n    path: ${join(dir, 'app')}\n    deploy: ${deploy}\n    restart: [app, worker]\n    health:\n      command: [${health}]\n      retries: 0\n`,
  );
  chmodSync(file, 0o640);
  const config = loadConfig(file, { uid: 0, home: dir, hostname: 'web-01' });
  const target: Target = { ...config.targets[0]!, serviceManager: { kind: 'service', binary: manager } };
  const lines = () => (existsSync(events) ? readFileSync(events, 'utf8').trim().split('\n') : []);
  return { dir, config, target, lines };
}

/** The JSON lines the operator finds in the day's log file while `run` goes live. */
const logged = (run: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> => loggedRecords(run, 'info');

/** A strategy whose restore hands back `dir` for the version asked for, after running the rebuild. */
function restoringInto(dir: string): Strategy {
  return {
    kind: 'releases',
    async restore(to: Version, rebuild: (p: Prepared) => Promise<void>): Promise<Prepared> {
      const p = { sha: to.sha, dir, release: to.release ?? undefined };
      await rebuild(p);
      return p;
    },
  } as unknown as Strategy;
}

describe.skipIf(requireRoot() || requireBinary('sudo'))('going live', () => {
  it('restarts every listed unit in order, then checks health', async () => {
    const { config, target, dir, lines } = world();
    await restartAndCheck(config, target, dir, { sha: NEW, dir });
    expect(lines()).toEqual(['service app restart', 'service worker restart', 'health']);
  });

  it('an unhealthy version is an error after the restarts', async () => {
    const { config, target, dir, lines } = world({ healthy: false });
    await expect(restartAndCheck(config, target, dir, { sha: NEW, dir })).rejects.toBeInstanceOf(HealthCheckError);
    expect(lines()).toEqual(['service app restart', 'service worker restart', 'health']);
  });

  it('a failing restart stops before the next unit and the health check', async () => {
    const { config, target, dir, lines } = world();
    const failing = join(dir, 'failing-service');
    writeFileSync(failing, `#!/bin/sh\necho "service $*" >> ${join(dir, 'events')}\nexit 3\n`);
    chmodSync(failing, 0o755);
    await expect(restartUnits(config, { ...target, serviceManager: { kind: 'service', binary: failing } }, dir, NEW)).rejects.toBeInstanceOf(SudoError);
    expect(lines()).toEqual(['service app restart']);
  });

  it('rolling back rebuilds the old version with POLLPRAY_ROLLBACK=1 (not a dry run), then restarts and checks health', async () => {
    const { config, target, dir, lines } = world();
    const restoredDir = join(dir, 'releases', 'r1');
    mkdirSync(restoredDir, { recursive: true });
    const asked: Version[] = [];
    const strategy = {
      kind: 'releases',
      async restore(to: Version, rebuild: (p: Prepared) => Promise<void>): Promise<Prepared> {
        asked.push(to);
        const p = { sha: to.sha, dir: restoredDir, release: to.release ?? undefined };
        await rebuild(p);
        return p;
      },
    } as unknown as Strategy;
    const restored = await rollBackTo(config, target, strategy, dir, { sha: OLD, release: 'r1' }, NEW);
    expect(restored).toEqual({ sha: OLD, dir: restoredDir, release: 'r1' });
    expect(asked).toEqual([{ sha: OLD, release: 'r1' }]);
    expect(lines()).toEqual([`deploy rollback=1 old=${NEW} new=${OLD} dir=${restoredDir} dry=0`, 'service app restart', 'service worker restart', 'health']);
  });

  it('logs one line per restarted unit, naming the unit, target, commit and how long it took', async () => {
    const { config, target, dir } = world();
    const lines = await logged(() => restartUnits(config, target, dir, NEW));
    expect(lines.map(({ level, message, target: t, commit, step }) => ({ level, message, target: t, commit, step }))).toEqual([
      { level: 'info', message: 'restarted app', target: 'app', commit: NEW, step: 'restart' },
      { level: 'info', message: 'restarted worker', target: 'app', commit: NEW, step: 'restart' },
    ]);
    // The restart's own duration, not a time stamp: a restart of a stub takes well under a minute.
    for (const line of lines) expect(line.durationMs).toSatisfy((ms: unknown) => typeof ms === 'number' && ms >= 0 && ms < 60_000);
  });

  it('a rollback is announced as a warning naming the release it goes back to, or the short commit without releases', async () => {
    const { config, target, dir } = world();
    const restoredDir = join(dir, 'releases', 'r1');
    mkdirSync(restoredDir, { recursive: true });
    const toRelease = await logged(() => rollBackTo(config, target, restoringInto(restoredDir), dir, { sha: OLD, release: 'r1' }, NEW));
    expect(toRelease[0]).toMatchObject({ level: 'warn', message: 'rolling back to release r1', target: 'app', commit: OLD, step: 'rollback' });
    const toCommit = await logged(() => rollBackTo(config, target, restoringInto(dir), dir, { sha: OLD }, NEW));
    expect(toCommit[0]).toMatchObject({ level: 'warn', message: `rolling back to ${OLD.slice(0, 12)}`, target: 'app', commit: OLD, step: 'rollback' });
  });
});
