/** Faults in the remote repository and in the local clone (rows 6-9, 11, 23; row 10 is not covered yet, see README of the failure-modes table). */
import { existsSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLineError, expectState, faultWorld, short } from './fault-world.js';

describe('git faults', { timeout: 30_000 }, () => {
  it('#6 force push: follow deploys the exact remote commit, refuse keeps the deployed code', async () => {
    const f = await faultWorld();
    const old = await f.origin.head();
    const newer = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    expect(f.live()).toBe(short(newer));

    await f.origin.forcePushTo(old);
    f.write({ on_force_push: 'refuse' });
    const refused = await f.world.cli(['run']);
    expect(refused.exitCode).toBe(1);
    expectOneLineError(refused.stderr, 'app', /refused: main was force-pushed/);
    expect(f.live()).toBe(short(newer));
    expectState(f.world, 'app', { deployedSha: newer, lastResult: 'refused' });

    f.write({ on_force_push: 'follow' });
    const followed = await f.world.cli(['run']);
    expect(followed.exitCode, followed.stderr).toBe(0);
    expect(f.live()).toBe(short(old));
    expectState(f.world, 'app', { deployedSha: old, lastResult: 'deployed' });
    expect(f.world.logText()).toMatch(/history rewritten/);
  });

  it("#7 branch deleted: 'branch not found', current untouched", async () => {
    const f = await faultWorld({ strategy: 'releases' });
    const head = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    await f.origin.deleteBranch('main');
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', /branch not found: main does not exist on /);
    expect(f.live()).toBe(short(head));
    expectState(f.world, 'app', { deployedSha: head });

    await f.origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
    const next = await f.origin.commit({ 'v.txt': 'back\n' }, 'Branch is back');
    const back = await f.world.cli(['run']);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
  });

  it('#8 repo deleted or renamed: clear error, state unchanged', async () => {
    const f = await faultWorld();
    const head = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const stateBefore = f.world.state('app');
    renameSync(f.origin.bare, `${f.origin.bare}.moved`);
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', /repository not found: file:\/\/.*origin\.git/);
    expect(f.live()).toBe(short(head));
    expect(f.world.state('app')).toMatchObject({ deployedSha: head, previousSha: stateBefore?.previousSha ?? null });

    renameSync(`${f.origin.bare}.moved`, f.origin.bare);
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    expect(f.live()).toBe(short(next));
  });

  it("#9 stale index.lock from a killed git: removed under pollpray's lock, logged, run continues", async () => {
    const f = await faultWorld();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    writeFileSync(join(f.path, '.git', 'index.lock'), '');
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
    expect(existsSync(join(f.path, '.git', 'index.lock'))).toBe(false);
    expect(f.world.logText()).toMatch(/index\.lock/);
    expectState(f.world, 'app', { deployedSha: next, lastResult: 'deployed' });
  });

  it('#11 local edits in an in-place checkout: logged, reset to the remote commit', async () => {
    const f = await faultWorld();
    const head = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    writeFileSync(join(f.path, 'README'), 'edited on the server\n');
    const git = (args: string[]) => f.origin.git(['-c', 'user.name=x', '-c', 'user.email=x@x', ...args], f.path);
    await git(['commit', '-qam', 'hotfix on the server']);
    writeFileSync(join(f.path, 'README'), 'edited again\n');
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
    expect(statSync(join(f.path, 'README')).size).toBe('pollpray test origin\n'.length);
    expect(f.world.logText()).toMatch(/local changes are discarded/);
    expectState(f.world, 'app', { deployedSha: next, previousSha: head });
  });

  it('#23 option / shell injection: a branch like --upload-pack=… or $(id) is rejected, nothing executed', async () => {
    const f = await faultWorld();
    const marker = join(f.world.dir, 'pwned');
    for (const branch of [`--upload-pack=touch ${marker}`, `$(touch ${marker})`]) {
      f.write({ branch });
      const r = await f.world.cli(['run']);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/branch/);
      expect(existsSync(marker)).toBe(false);
      expect(existsSync(f.path)).toBe(false);
    }
    f.write({ repo: `--upload-pack=touch ${marker}` });
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(2);
    expect(existsSync(marker)).toBe(false);
    f.write();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
  });
});
