/** Faults in the remote repository and in the local clone (rows 6-11, 23, 84, 105). */
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLineError, expectState, faultWorld, releaseDirs, short, type FaultWorld } from './fault-world.js';

/**
 * Truncates the object `rev` names in the repository at `gitDir` to 10 bytes, as a
 * crash or a bad disk would. A packed object is first unpacked to a loose file so
 * that exactly one object is damaged and the rest stay readable.
 */
async function truncateObject(f: FaultWorld, gitDir: string, rev: string): Promise<void> {
  const id = await f.origin.git(['rev-parse', rev]);
  const packDir = join(gitDir, 'objects', 'pack');
  const scratch = mkdtempSync(join(tmpdir(), 'pollpray-pack-'));
  for (const pack of existsSync(packDir) ? readdirSync(packDir).filter((n) => n.endsWith('.pack')) : []) {
    renameSync(join(packDir, pack), join(scratch, pack));
    for (const n of readdirSync(packDir).filter((n) => n.startsWith(pack.replace(/\.pack$/, '')))) unlinkSync(join(packDir, n));
    execFileSync('git', ['--git-dir', gitDir, 'unpack-objects', '-q'], { input: readFileSync(join(scratch, pack)), env: f.origin.env });
  }
  rmSync(scratch, { recursive: true, force: true });
  const file = join(gitDir, 'objects', id.slice(0, 2), id.slice(2));
  chmodSync(file, 0o644);
  truncateSync(file, 10);
}

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

  it('#10 corrupt clone, .git/HEAD deleted: detected, the .git re-cloned, untracked files kept', async () => {
    const f = await faultWorld();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    // A repository above the checkout (a /srv kept in git) must not be mistaken for it.
    const above = join(f.path, '..');
    await f.origin.git(['init', '-q', '-b', 'main', above], above);
    writeFileSync(join(above, 'site.conf'), 'kept\n');
    await f.origin.git(['-C', above, 'add', 'site.conf'], above);
    // Its own identity: the origin's isolated HOME has none, and a host name without a domain
    // gives git nothing to guess one from.
    await f.origin.git(['-C', above, '-c', 'user.name=Site', '-c', 'user.email=site@pollpray.invalid', 'commit', '-qm', 'site config'], above);
    const aboveHead = await f.origin.git(['-C', above, 'rev-parse', 'HEAD'], above);
    writeFileSync(join(f.path, 'upload.jpg'), 'a user upload\n');
    unlinkSync(join(f.path, '.git', 'HEAD'));
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
    expect(readFileSync(join(f.path, 'v.txt'), 'utf8')).toBe('2\n');
    expect(readFileSync(join(f.path, 'upload.jpg'), 'utf8')).toBe('a user upload\n');
    expect(await f.origin.git(['-C', above, 'rev-parse', 'HEAD'], above)).toBe(aboveHead);
    expect(await f.origin.git(['-C', above, 'status', '--porcelain', '--untracked-files=no'], above)).toBe('');
    expect(f.world.logText()).toMatch(/checkout at .* is corrupt \(git does not recognise it.*moved it aside to .*corrupt-checkout\.git/);
    expect(existsSync(join(f.world.stateDir, 'targets', 'app', 'corrupt-checkout.git'))).toBe(true);
    expectState(f.world, 'app', { deployedSha: next, lastResult: 'deployed' });
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    expect(f.calls()).toHaveLength(2);
  });

  it('#10 corrupt clone, an object truncated: found by git fsck before the live checkout moves, re-cloned', async () => {
    const f = await faultWorld();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    // README is unchanged by the next commit, so the fetch does not bring it again.
    await truncateObject(f, join(f.path, '.git'), 'HEAD:README');
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
    expect(readFileSync(join(f.path, 'README'), 'utf8')).toBe('pollpray test origin\n');
    expect(f.world.logText()).toMatch(/checkout at .* is corrupt \(.*(corrupt|missing|unable).*\): moved it aside/);
    expect(f.calls()).toHaveLength(2);
    expectState(f.world, 'app', { deployedSha: next, lastResult: 'deployed' });
  });

  it('#54 in-place: files the commit marks export-ignore are still read before the checkout moves: a damaged object behind them is found by git fsck, re-cloned, the live tree never half-written', async () => {
    const f = await faultWorld();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    await truncateObject(f, join(f.path, '.git'), 'HEAD:README');
    // The next commit needs README's (damaged) blob for a new file, and hides both from `git archive`.
    const next = await f.origin.commit(
      { '.gitattributes': 'README export-ignore\nhidden/copy.txt export-ignore\n', 'hidden/copy.txt': 'pollpray test origin\n', 'v.txt': '2\n' },
      'v2 with export-ignore',
    );
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.world.logText()).toMatch(/checkout at .* is corrupt \(.*\): moved it aside/);
    expect(f.live()).toBe(short(next));
    expect(readFileSync(join(f.path, 'hidden', 'copy.txt'), 'utf8')).toBe('pollpray test origin\n');
    expect(readFileSync(join(f.path, 'README'), 'utf8')).toBe('pollpray test origin\n');
    expect(f.calls()).toHaveLength(2);
    expectState(f.world, 'app', { deployedSha: next, lastResult: 'deployed' });
  });

  it('#10 corrupt clone, an object in the releases mirror truncated: mirror rebuilt, release complete', async () => {
    const f = await faultWorld({ strategy: 'releases' });
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const mirror = join(f.world.stateDir, 'targets', 'app', 'mirror.git');
    await truncateObject(f, mirror, 'HEAD:README');
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
    expect(readFileSync(join(f.path, 'current', 'README'), 'utf8')).toBe('pollpray test origin\n');
    expect(f.world.logText()).toMatch(/mirror is corrupt \(.*\): moved it aside to .*mirror\.git\.corrupt/);
    expect(releaseDirs(f.path)).toHaveLength(2);
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

  it('#84 a repository with thousands of tags (a listing over 256 KiB): the newest matching version deploys, wherever it sorts', async () => {
    const f = await faultWorld({ script: 'printf \'%s\\n\' "$POLLPRAY_TAG" >> tags.seen' });
    const old = await f.origin.head();
    const newest = await f.origin.commit({ 'v.txt': '10\n' }, 'Ten');
    // 5,000 tags of 2.0.x on the old commit, and v10.0.0, which sorts before every one of them.
    const updates = Array.from({ length: 5000 }, (_, i) => `create refs/tags/v2.0.${i} ${old}`).join('\n');
    execFileSync('git', ['update-ref', '--stdin'], { cwd: f.origin.bare, env: f.origin.env, input: `${updates}\ncreate refs/tags/v10.0.0 ${newest}\n` });
    f.write({ tags: 'v*' });
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(newest));
    expect(readFileSync(join(f.path, 'tags.seen'), 'utf8')).toBe('v10.0.0\n');
    expectState(f.world, 'app', { deployedSha: newest });
  });

  for (const [what, bytes] of [['65,000 bytes (about the longest a ref listing carries: a pkt-line holds 65,516)', 65_000], ['300 bytes (more than a filesystem here allows one file name)', 300]] as const) {
    it(`#105 a tag name of ${what}, held in the remote's packed-refs: ignored with one warning naming it cut short; the newest other tag deploys`, async () => {
      const f = await faultWorld({ script: 'printf \'%s\\n\' "$POLLPRAY_TAG" >> tags.seen' });
      const good = await f.origin.commit({ 'v.txt': '1\n' }, 'One');
      execFileSync('git', ['update-ref', 'refs/tags/v1.0.0', good], { cwd: f.origin.bare, env: f.origin.env });
      const hostile = await f.origin.commit({ 'v.txt': 'hostile\n' }, 'Hostile');
      // A loose ref cannot have such a name; packed-refs can. A version tag, newer than any: v<x…>9.9.9.
      const name = `v${'x'.repeat(bytes - 6)}9.9.9`;
      execFileSync('git', ['pack-refs', '--all'], { cwd: f.origin.bare, env: f.origin.env });
      appendFileSync(join(f.origin.bare, 'packed-refs'), `${hostile} refs/tags/${name}\n`);
      expect(execFileSync('git', ['ls-remote', '--tags', f.origin.bare], { env: f.origin.env, encoding: 'utf8', maxBuffer: 1 << 20 })).toContain(name);
      f.write({ tags: 'v*' });
      for (let i = 0; i < 2; i++) {
        const r = await f.world.cli(['run']);
        expect(r.exitCode, r.stderr.slice(0, 2000)).toBe(0);
        expect(f.live()).toBe(short(good));
        expectState(f.world, 'app', { deployedSha: good });
      }
      expect(readFileSync(join(f.path, 'tags.seen'), 'utf8')).toBe('v1.0.0\n');
      const warned = f.world.logText().split('\n').filter((l) => /WARN/.test(l) && l.includes('vxxxxxxxx'));
      expect(warned).toHaveLength(2); // one a run
      expect(warned[0]).toMatch(new RegExp(`ignored tag vx{39}…x{3}9\\.9\\.9 \\(${bytes} bytes\\): a tag name over 255 bytes in one part \\(or 1024 in all\\) cannot be fetched into a ref; not deploying it`));
      expect(warned[0]!.length).toBeLessThan(1000);
    });
  }

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
