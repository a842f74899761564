/**
 * One target path in two configs with their own state dirs (row 69): cron's config and a
 * copy run by hand with another `state_dir`. The path records which state dir deploys it;
 * the other config refuses it, naming that owner, and touches nothing.
 */
import { existsSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { until } from '../helpers/pollpray-cli.js';
import { expectOneLineError, faultWorld, short, type FaultWorld } from './fault-world.js';

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A copy of the fault world's config: the same target and path, its own state and log dir. */
function copyConfig(f: FaultWorld, strategy: 'in-place' | 'releases', extra: Record<string, unknown> = {}): string {
  const copy = join(f.world.dir, 'copy.yaml');
  const target = { repo: f.origin.url, path: f.path, strategy, deploy: join(f.world.dir, 'deploy.sh'), ...(strategy === 'releases' ? { min_free_space: '1MB' } : {}), ...extra };
  writeFileSync(copy, stringify({ state_dir: join(f.world.dir, 'state-copy'), log: { dir: join(f.world.dir, 'log-copy') }, targets: { app: target } }), { mode: 0o640 });
  return copy;
}

describe('one path, two configs', { timeout: 60_000 }, () => {
  for (const strategy of ['in-place', 'releases'] as const) {
    it(`#69 ${strategy}: a second config (another state_dir) refuses a path the first deploys, naming it; nothing deployed twice or pruned; hand-over by removing the record`, async () => {
      const f = await faultWorld({ strategy, target: strategy === 'releases' ? { keep_releases: 2 } : {} });
      const first = await f.world.cli(['run']);
      expect(first.exitCode, first.stderr).toBe(0);
      const head = await f.origin.head();
      const releases = () => (strategy === 'releases' ? readdirSync(join(f.path, 'releases')).sort() : []);
      const before = releases();

      // The copy: the same target, another state and log dir.
      const copy = join(f.world.dir, 'copy.yaml');
      const copyState = join(f.world.dir, 'state-copy');
      const target = {
        repo: f.origin.url,
        path: f.path,
        strategy,
        deploy: join(f.world.dir, 'deploy.sh'),
        deploy_timeout: '5s',
        git_timeout: '5s',
        ...(strategy === 'releases' ? { min_free_space: '1MB', keep_releases: 2 } : {}),
      };
      writeFileSync(copy, stringify({ state_dir: copyState, log: { dir: join(f.world.dir, 'log-copy') }, targets: { app: target } }), { mode: 0o640 });
      const refused = await f.world.cli(['-c', copy, 'run']);
      expect(refused.exitCode).toBe(1);
      expectOneLineError(
        refused.stderr,
        'app',
        new RegExp(`targets\\.app\\.path ${esc(f.path)} is deployed by another pollpray: config ${esc(f.world.configFile)} \\(state_dir ${esc(f.world.stateDir)}, target app\\).*\\(fix: .*pollpray -c ${esc(f.world.configFile)} run app`),
      );
      expect(refused.stderr).not.toMatch(/not counted|internal error/);
      expect(f.calls()).toEqual([`${head} 0`]);
      expect(f.live()).toBe(short(head));
      expect(releases()).toEqual(before);

      // The owner goes on deploying; the copy goes on refusing, and never prunes its releases.
      const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
      expect((await f.world.cli(['run'])).exitCode).toBe(0);
      const again = await f.world.cli(['-c', copy, 'run']);
      expect(again.exitCode).toBe(1);
      expect(f.calls()).toEqual([`${head} 0`, `${next} 0`]);
      expect(f.live()).toBe(short(next));
      if (strategy === 'releases') expect(readlinkSync(join(f.path, 'current'))).toMatch(new RegExp(`${short(next)}$`));
      // A rollback from the copy refuses too.
      const rollback = await f.world.cli(['-c', copy, 'rollback', 'app', head.slice(0, 12)]);
      expect(rollback.exitCode).not.toBe(0);
      expect(rollback.stderr).toMatch(/is deployed by another pollpray/);
      expect(f.live()).toBe(short(next));

      // Hand-over, as the fix says: the record removed, the copy deploys and owns the path.
      const record = strategy === 'releases' ? join(f.path, '.pollpray', 'owner.json') : join(f.path, '.git', 'pollpray-owner.json');
      expect(existsSync(record)).toBe(true);
      rmSync(record);
      const takeover = await f.world.cli(['-c', copy, 'run']);
      expect(takeover.exitCode, takeover.stderr).toBe(0);
      expect((await f.world.cli(['run'])).exitCode).toBe(1);
    });
  }

  for (const strategy of ['in-place', 'releases'] as const) {
    it(`#76 ${strategy}: two configs deploying a path that is not there yet at the same moment: one deploys, the other refuses it naming the path and touches nothing`, async () => {
      const f = await faultWorld({ strategy });
      const w = f.world.dir;
      f.world.script('deploy.sh', `echo "$POLLPRAY_NEW_SHA $POLLPRAY_ROLLBACK" >> "${w}/calls.log"\n[ -f "${w}/block" ] && while [ ! -f "${w}/go" ]; do sleep 0.05; done\nexit 0`);
      // Should the copy deploy after all, its script is ended soon instead of waiting at the gate.
      const copy = copyConfig(f, strategy, { deploy_timeout: '3s' });
      const head = await f.origin.head();
      writeFileSync(join(w, 'block'), '');
      const owner = f.world.spawn(['run']);
      await until(() => f.calls().length === 1, 15_000, 'the first config to start its deploy script');
      // The path has no record yet: only the running deploy can stop the copy.
      expect(existsSync(join(f.path, strategy === 'releases' ? '.pollpray/owner.json' : '.git/pollpray-owner.json'))).toBe(false);

      const refused = await f.world.cli(['-c', copy, 'run']);
      expect(refused.exitCode).toBe(1);
      expectOneLineError(
        refused.stderr,
        'app',
        new RegExp(`targets\\.app\\.path ${esc(f.path)} is being deployed by another pollpray right now \\(another config or state_dir names this path\\); left as it is \\(fix: deploy each path from one config only; once that run ends, \\S*owner\\.json names its config\\)`),
      );
      expect(f.calls()).toEqual([`${head} 0`]);
      // A rollback from the copy waits for nothing and switches nothing either.
      const rollback = await f.world.cli(['-c', copy, 'rollback', 'app', head.slice(0, 12)]);
      expect(rollback.exitCode).not.toBe(0);
      expect(rollback.stderr).toMatch(/is being deployed by another pollpray right now/);

      writeFileSync(join(w, 'go'), '');
      const done = await owner;
      expect(done.exitCode, String(done.stderr)).toBe(0);
      expect(f.calls()).toEqual([`${head} 0`]);
      expect(f.live()).toBe(short(head));
      // From now on the record names the owner, and the copy says whose path it is.
      const later = await f.world.cli(['-c', copy, 'run']);
      expect(later.exitCode).toBe(1);
      expect(later.stderr).toMatch(new RegExp(`is deployed by another pollpray: config ${esc(f.world.configFile)}`));
    });
  }

  it('#69 a path whose recorded state dir is gone (state_dir moved and the old one removed) is taken over without a word', async () => {
    const f = await faultWorld();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const moved = join(f.world.dir, 'state-new');
    f.write({}, { state_dir: moved });
    rmSync(f.world.stateDir, { recursive: true });
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
  });

  for (const strategy of ['in-place', 'releases'] as const) {
    it(`#71 ${strategy}: doctor of a second config fails the target whose path the first deploys, with run's reason and fix; doctor of the owner passes it`, async () => {
      const f = await faultWorld({ strategy });
      expect((await f.world.cli(['run'])).exitCode).toBe(0);
      const copy = copyConfig(f, strategy);

      const d = await f.world.cli(['-c', copy, 'doctor']);
      expect(d.exitCode).toBe(1);
      expect(d.stdout).toMatch(
        new RegExp(`^FAIL +path \\(app\\) +targets\\.app\\.path ${esc(f.path)} is deployed by another pollpray: config ${esc(f.world.configFile)} \\(state_dir ${esc(f.world.stateDir)}, target app\\).*pollpray run refuses this target \\(fix: deploy it with that config only \\(pollpray -c ${esc(f.world.configFile)} run app\\).*rm \\S*owner\\.json\\)$`, 'm'),
      );
      // The owner's doctor has nothing against the path.
      const own = await f.world.cli(['doctor']);
      expect(own.stdout).toMatch(new RegExp(`^ok +path \\(app\\) +${esc(f.path)} is writable`, 'm'));
      expect(own.stdout).not.toMatch(/deployed by another pollpray/);
      // And doctor only looks: the copy still refuses, the owner still deploys.
      expect((await f.world.cli(['-c', copy, 'run'])).exitCode).toBe(1);
      expect((await f.world.cli(['run'])).exitCode).toBe(0);
    });
  }
});
