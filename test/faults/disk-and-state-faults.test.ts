/** Faults of the machine pollpray runs on: disk full, a corrupt or invalid state file, an unwritable or full log dir (rows 20, 24, 25, 51, 52, 83, 104). */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, closeSync, existsSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BIN } from '../helpers/pollpray-cli.js';
import { requireRoot } from '../helpers/require-env.js';
import { makeSudoFixture, requireSudoFixture } from '../helpers/sudo-user.js';
import { makeUserWorld } from '../helpers/user-world.js';
import { lfsOrigin } from '../helpers/repos.js';
import { startLfsHttp } from '../helpers/lfs-http.js';
import { makeWorld } from '../helpers/pollpray-cli.js';
import { requireBinary } from '../helpers/require-env.js';
import { expectOneLineError, expectState, faultWorld, releaseDirs, short } from './fault-world.js';

describe('disk and state faults', { timeout: 30_000 }, () => {
  it.skipIf(requireRoot())('#20 disk full: a commit that does not fit is refused before a release is made, state kept, not counted against the commit (a 1 MB tmpfs)', async () => {
    const f = await faultWorld({ strategy: 'releases', target: { min_free_space: '1KB' } });
    mkdirSync(f.path, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', f.path]);
    onTestFinished(() => execFileSync('umount', [f.path]));
    const good = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const before = releaseDirs(f.path);
    // 3 MB of incompressible data: does not fit in what is left of the 1 MB filesystem.
    await f.origin.commit({ 'big.bin': randomBytes(3 * 1024 * 1024).toString('base64') }, 'Too big');
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    // What the commit unpacks to is known from its tree before anything is written (row 83).
    expectOneLineError(r.stderr, 'app', /not enough disk space for a release of \w{12}: it takes 4\.0MB, .* is free at .* and min_free_space \(1\.0KB\) must stay free; nothing was written/);
    expect(releaseDirs(f.path)).toEqual(before);
    expect(f.live()).toBe(short(good));
    // A full disk is the host's fault: not counted against the commit.
    expectState(f.world, 'app', { deployedSha: good, lastResult: 'failed', failures: {} });
    expect(r.stderr).toMatch(/not counted against \w{12}/);

    await f.origin.git(['rm', '-q', 'big.bin']);
    const fixed = await f.origin.commit({ 'v.txt': 'small again\n' }, 'Drop the big file');
    const again = await f.world.cli(['run']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(f.live()).toBe(short(fixed));
  });

  /**
   * A commit whose pack is a few KiB but which unpacks to 64 MiB: one 1 MiB blob (a pattern,
   * not zeros: git writes runs of zeros as holes) under 64 names. Returns the commit.
   */
  async function pushBomb(f: Awaited<ReturnType<typeof faultWorld>>): Promise<string> {
    const { execa } = await import('execa');
    const git = async (args: string[], input?: string) => (await execa('git', args, { cwd: f.origin.work, env: f.origin.env, extendEnv: false, input })).stdout.trim();
    const blob = await git(['hash-object', '-w', '--stdin'], 'pollpray '.repeat(116_509));
    const dir = await git(['mktree'], `${Array.from({ length: 64 }, (_, i) => `100644 blob ${blob}\tcopy${i}.txt`).join('\n')}\n`);
    const tree = await git(['mktree'], `${await git(['ls-tree', 'HEAD'])}\n040000 tree ${dir}\tbomb\n`);
    const commit = await git(['commit-tree', '-p', 'HEAD', '-m', 'A few KiB that unpack to 64 MiB', tree]);
    await git(['update-ref', 'refs/heads/main', commit]);
    await git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
    return commit;
  }

  const mountTmpfs = (dir: string, size: string) => {
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0750`, 'tmpfs', dir]);
    onTestFinished(() => execFileSync('umount', [dir]));
  };
  const freeAt = (dir: string) => Number(execFileSync('df', ['--output=avail', '-B1', dir], { encoding: 'utf8' }).split('\n')[1]);

  for (const where of ['in-place', 'releases (path)', 'releases (state_dir)'] as const) {
    it.skipIf(requireRoot())(`#83 ${where}: a commit that unpacks to more than the disk holds is refused before anything is written, a host fault; the disk never fills`, async () => {
      const strategy = where === 'in-place' ? 'in-place' : 'releases';
      const f = await faultWorld({ strategy });
      // in-place targets take min_free_space from defaults (the target key is releases-only).
      if (strategy === 'in-place') f.write({}, { defaults: { min_free_space: '1MB' } });
      mountTmpfs(where === 'releases (state_dir)' ? f.world.stateDir : f.path, '16m');
      const disk = where === 'releases (state_dir)' ? f.world.stateDir : f.path;
      const good = await f.origin.head();
      expect((await f.world.cli(['run'])).exitCode).toBe(0);
      const before = freeAt(disk);
      const bomb = await pushBomb(f);
      const what = where === 'in-place' ? 'the checkout of' : where === 'releases (path)' ? 'a release of' : 'the archive of commit';
      for (let i = 0; i < 2; i++) {
        const r = await f.world.cli(['run']);
        expect(r.exitCode, r.stderr).toBe(1);
        expectOneLineError(r.stderr, 'app', new RegExp(`not enough disk space for ${what} ${short(bomb)}: it takes 6\\dMB, 1\\dMB is free at ${disk}\\S* and min_free_space \\(1\\.0MB\\) must stay free; nothing was written`));
        expect(r.stderr).not.toMatch(/ENOSPC|No space left|Out of diskspace/);
        expect(f.world.logText()).not.toMatch(/ENOSPC|No space left|Out of diskspace/);
        expect(f.live()).toBe(short(good));
        expect(freeAt(disk)).toBeGreaterThanOrEqual(before - 64 * 1024);
        if (strategy === 'in-place') expect(existsSync(join(f.path, 'bomb'))).toBe(false);
        else expect(releaseDirs(f.path)).toHaveLength(1);
        // The host's fault, as a full disk is: not counted.
        expectState(f.world, 'app', { deployedSha: good, lastFault: 'host' });
        expect(f.world.state('app')?.failures).toEqual({});
      }
      await f.origin.forcePushTo(good);
      const fixed = await f.origin.commit({ 'v.txt': 'small\n' }, 'Small again');
      const again = await f.world.cli(['run']);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(f.live()).toBe(short(fixed));
    });
  }

  it('#24 truncated or corrupt state file: moved aside as .corrupt, deployed commit recovered from disk', async () => {
    const f = await faultWorld();
    const head = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const dir = join(f.world.stateDir, 'targets', 'app');
    truncateSync(join(dir, 'state.json'), 10);
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(dir).filter((n) => n.startsWith('state.json.corrupt'))).toHaveLength(1);
    expect(f.world.logText()).toMatch(/corrupt/);
    expectState(f.world, 'app', { deployedSha: head });
    expect(f.calls()).toHaveLength(1);
    expect(f.live()).toBe(short(head));

    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    expectState(f.world, 'app', { deployedSha: next, previousSha: head });
  });

  it.skipIf(requireRoot())('#49 read-only state_dir: one line naming state_dir and the fix, not counted; after remounting read-write the next run deploys (no --force)', async () => {
    const f = await faultWorld();
    mkdirSync(f.world.stateDir, { recursive: true });
    // mode=0750: a tmpfs root is 1777 by default, a state dir other users could write (row 55).
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0750', 'tmpfs', f.world.stateDir]);
    onTestFinished(() => execFileSync('umount', [f.world.stateDir]));
    const good = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    execFileSync('mount', ['-o', 'remount,ro', f.world.stateDir]);
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    const line = r.stderr.trim().split('\n').filter((l) => l.startsWith('pollpray: '));
    expect(line, r.stderr).toHaveLength(1);
    expect(line[0]).toMatch(new RegExp(`^pollpray: state_dir \\(${f.world.stateDir}\\): read-only file system \\(EROFS\\) .*\\(fix: .*remount it read-write, or set state_dir`));
    expect(r.stderr).not.toMatch(/internal error|bug in pollpray|log dir|test-ssh/);
    expect(f.live()).toBe(short(good));

    execFileSync('mount', ['-o', 'remount,rw', f.world.stateDir]);
    const again = await f.world.cli(['run']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(f.live()).toBe(short(next));
  });

  it.skipIf(requireSudoFixture())('#49 state_dir not writable by the user: names state_dir (not the log dir inside it); after the fix the next run deploys', async () => {
    const sudo = await makeSudoFixture();
    const u = await makeUserWorld(sudo);
    // The default layout for a user: the log dir inside the state dir.
    await u.writeConfig({}, { log: { dir: join(u.world.stateDir, 'log') } });
    mkdirSync(u.world.stateDir, { recursive: true });
    await sudo.giveToUser(u.world.dir);
    chmodSync(u.world.stateDir, 0o500);
    const r = await u.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`state_dir \\(${u.world.stateDir}\\): permission denied \\(EACCES\\).*\\(fix: .*${u.world.stateDir}.*or set state_dir`));
    expect(r.stderr).not.toMatch(/bug in pollpray|internal error/);

    chmodSync(u.world.stateDir, 0o700);
    const ok = await u.cli(['run']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expectState(u.world, 'app', { deployedSha: u.head });
  });

  it.skipIf(requireSudoFixture())('#25 log dir not writable: clear error on stderr, no deploy without an audit trail (as an unprivileged user)', async () => {
    const sudo = await makeSudoFixture();
    const u = await makeUserWorld(sudo);
    mkdirSync(u.world.logDir, { recursive: true });
    await sudo.giveToUser(u.world.dir);
    chmodSync(u.world.logDir, 0o500);
    const r = await u.cli(['run']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`log directory ${u.world.logDir} is not writable.*\\(fix: .+\\)`));
    expect(existsSync(join(u.path, '.git'))).toBe(false);
    expect(await sudo.calls()).toEqual([]);

    chmodSync(u.world.logDir, 0o700);
    const ok = await u.cli(['run']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expectState(u.world, 'app', { deployedSha: u.head });
  });
});

/** A tmpfs of `size` mounted at `dir` for this test (root only; callers gate with requireRoot). */
function smallTmpfs(dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  // mode=0750: a tmpfs root is 1777 by default, which pollpray refuses for a state or log dir (row 55).
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0750`, 'tmpfs', dir]);
  onTestFinished(() => execFileSync('umount', [dir]));
}

/** Fills the filesystem holding `dir` until a write fails with ENOSPC. */
function fill(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w');
  try {
    const block = Buffer.alloc(4096, 1);
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

describe('log filesystem faults', { timeout: 30_000 }, () => {
  it.skipIf(requireRoot())('#51 log filesystem fills during the deploy script: the deploy completes, state is written, one stderr line names the log dir, logging goes on on stderr (a 64 KiB tmpfs)', async () => {
    // 4000 lines of output, each logged: far more than the 64 KiB log filesystem holds.
    const f = await faultWorld({ script: 'for i in $(seq 1 4000); do echo "building step $i of the new release"; done' });
    smallTmpfs(f.world.logDir, '64k');
    const head = await f.origin.head();
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(head));
    expectState(f.world, 'app', { deployedSha: head, lastResult: 'deployed' });
    expect(f.world.history('app')).toHaveLength(1);
    const notes = r.stderr.split('\n').filter((l) => l.includes(f.world.logDir));
    expect(notes, r.stderr).toHaveLength(1);
    expect(notes[0]).toMatch(/^pollpray: log directory \S+ is full \(ENOSPC\): logging to stderr from now on \(fix: free space in \S+ or point log\.dir elsewhere\)$/);
    // What the run logs once the file failed goes to stderr (lines the file stream had
    // already taken when the disk filled are lost with it): here, at least the outcome.
    const after = r.stderr.slice(r.stderr.indexOf(notes[0] ?? ''));
    expect(after).toMatch(/^\S+ INFO  \[app\] @\w{12} done: deployed \w{12} /m);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it.skipIf(requireRoot())('#51 log filesystem already full at start-up: a degraded run, one stderr line, no stack trace; the deploy still happens', async () => {
    const f = await faultWorld();
    smallTmpfs(f.world.logDir, '64k');
    fill(f.world.logDir);
    const head = await f.origin.head();
    const r = await f.world.cli(['run']);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.exitCode, r.stderr).toBe(0);
    const notes = r.stderr.split('\n').filter((l) => l.includes(f.world.logDir));
    expect(notes, r.stderr).toHaveLength(1);
    expect(notes[0]).toMatch(/^pollpray: log directory \S+ is full \(ENOSPC\): logging to stderr from now on \(fix: /);
    expectState(f.world, 'app', { deployedSha: head });
    expect(f.live()).toBe(short(head));
  });
});

describe('state files read back as data', { timeout: 30_000 }, () => {
  it('#52 a state.json of valid JSON with wrong types ({"failures":null}) is moved aside with a warning; the run recovers the deployed commit from disk', async () => {
    const f = await faultWorld();
    const head = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const dir = join(f.world.stateDir, 'targets', 'app');
    for (const broken of [{ failures: null }, { deployedSha: '--upload-pack=touch /tmp/owned' }, { currentRelease: '../../../etc' }]) {
      const file = join(dir, 'state.json');
      writeFileSync(file, JSON.stringify({ ...(JSON.parse(readFileSync(file, 'utf8')) as object), ...broken }));
      const r = await f.world.cli(['run']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/internal error/);
      expectState(f.world, 'app', { deployedSha: head, lastResult: 'unchanged' });
    }
    expect(readdirSync(dir).filter((n) => n.startsWith('state.json.corrupt-'))).toHaveLength(3);
    expect(f.world.logText()).toMatch(/WARN .*state file was corrupt \(it does not match its schema \(failures: [^)]*\)\), moved aside to \S+state\.json\.corrupt-\S+; recovered deployed commit/);
    // Nothing was redeployed.
    expect(f.calls()).toHaveLength(1);
  });

  it('#52 a renamed target whose state dir moved with it: state is written where it was read, each commit deployed once (3 runs after the rename, 1 deploy)', async () => {
    const f = await faultWorld();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    // Rename the target app -> web in the config and move its state dir along; the file still says "app".
    const config = parse(readFileSync(f.world.configFile, 'utf8')) as { targets: Record<string, unknown> };
    config.targets = { web: config.targets.app };
    writeFileSync(f.world.configFile, stringify(config), { mode: 0o640 });
    renameSync(join(f.world.stateDir, 'targets', 'app'), join(f.world.stateDir, 'targets', 'web'));
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    for (let i = 0; i < 3; i++) {
      const r = await f.world.cli(['run']);
      expect(r.exitCode, r.stderr).toBe(0);
    }
    expect(f.calls()).toHaveLength(2);
    expect(existsSync(join(f.world.stateDir, 'targets', 'app'))).toBe(false);
    expectState(f.world, 'web', { target: 'web', deployedSha: next });
    expect(f.world.history('web').filter((h) => h.result === 'deployed')).toHaveLength(2);
  });

  it('#52 an 800 MB history.jsonl: history and an in-place rollback by commit prefix read only its end (bounded time, no crash)', async () => {
    const f = await faultWorld();
    const first = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    // Grow history.jsonl to 800 MB in front of its real lines: a sparse hole, no disk used.
    const file = join(f.world.stateDir, 'targets', 'app', 'history.jsonl');
    const real = readFileSync(file, 'utf8');
    truncateSync(file, 0);
    truncateSync(file, 800 * 1024 * 1024);
    appendFileSync(file, `\n${real}`);

    const h = await f.world.cli(['history', 'app', '--json']);
    expect(h.exitCode, h.stderr).toBe(0);
    expect(h.durationMs).toBeLessThan(10_000);
    expect((JSON.parse(h.stdout) as { entries: Array<{ commit: string }> }).entries.map((e) => e.commit)).toEqual([first, await f.origin.head()]);
    const r = await f.world.cli(['rollback', 'app', first.slice(0, 10)]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.durationMs).toBeLessThan(10_000);
    expect(f.live()).toBe(short(first));
  });

  it('#52 signals.json and the running-script record of the wrong shape are set aside; the run goes on and no process is signalled', async () => {
    const f = await faultWorld();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const dir = join(f.world.stateDir, 'targets', 'app');
    writeFileSync(join(dir, 'signals.json'), JSON.stringify({ version: 1, target: 'app', openProblem: null, deploys: null, lastDeployDurationMs: null, updatedAt: 0 }));
    // pgid 0 would be pollpray's own group; a string is no group at all.
    writeFileSync(join(dir, 'running.pgid'), JSON.stringify({ id: 5, pgid: 0, start: 'x' }));
    await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(await f.origin.head()));
    expect(readdirSync(dir).filter((n) => n.startsWith('signals.json.corrupt-'))).toHaveLength(1);
    expect(existsSync(join(dir, 'running.pgid'))).toBe(false);
    expect(f.world.logText()).toMatch(/WARN .*signals\.json does not match its schema \(deploys: [^)]*\): moved aside to /);
    expect(f.world.logText()).toMatch(/WARN .*running\.pgid is not a valid running-script record; removed without ending any process/);
    const signals = JSON.parse(readFileSync(join(dir, 'signals.json'), 'utf8')) as { deploys: Record<string, number> };
    expect(signals.deploys).toEqual({ deployed: 1 });
  });

  it('#94 hard links planted at the temp names of the next run\'s metrics and state writes (a metrics dir others can write): the files they lead to are left as they were', async () => {
    const f = await faultWorld();
    const shared = join(f.world.dir, 'textfile-collector');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    const metricsFile = join(shared, 'pollpray.prom');
    f.write({}, { metrics_file: metricsFile });
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const next = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const victim = join(f.world.dir, 'precious.conf');
    writeFileSync(victim, 'precious\n', { mode: 0o644 });

    // The temp names carry the writer's PID: a shell that execs pollpray keeps its PID, so
    // the links are in place, under that PID, before pollpray starts.
    const run = execa('sh', ['-c', 'read _ && exec "$@"', 'sh', 'node', BIN, 'run'], { cwd: f.world.dir, env: f.world.env, reject: false });
    const pid = run.pid;
    if (pid === undefined || !run.stdin) throw new Error('the run did not start');
    const stateDir = join(f.world.stateDir, 'targets', 'app');
    linkSync(victim, join(shared, `.pollpray.prom.tmp-${pid}`));
    linkSync(victim, join(stateDir, `.state.json.tmp-${pid}`));
    run.stdin.end('go\n');
    const r = await run;
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(next));

    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(statSync(victim).nlink).toBe(1);
    expect(readFileSync(metricsFile, 'utf8')).toMatch(/^pollpray_/m);
    expectState(f.world, 'app', { deployedSha: next });
    expect(readdirSync(shared).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});

describe.skipIf(requireBinary('git-lfs', 'git-lfs'))('disk faults: Git LFS', { timeout: 60_000 }, () => {
  for (const strategy of ['in-place', 'releases'] as const) {
    it(`#104 ${strategy}: a commit whose LFS pointer names an object bigger than the disk has room for is refused before anything is downloaded, a host fault, not counted`, async () => {
      const origin = await lfsOrigin('first\n'.repeat(300));
      const server = await startLfsHttp(origin.bare);
      const world = makeWorld();
      const path = join(world.dir, 'app');
      const target = { repo: origin.url, path, strategy, lfs: { url: server.url }, ...(strategy === 'releases' ? { min_free_space: '1MB' } : {}) };
      world.writeConfig({ ...(strategy === 'in-place' ? { defaults: { min_free_space: '1MB' } } : {}), targets: { app: target } });
      const first = await world.cli(['run']);
      expect(first.exitCode, first.stderr).toBe(0);
      const good = await origin.head();
      const before = server.requests.length;

      // A pointer is ~130 bytes, whatever the size of the object it names: here 5 TB (git-lfs
      // verifies an object's oid and size as it downloads it; what the pointer states is what
      // would be downloaded).
      const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${'ab'.repeat(32)}\nsize ${5 * 1024 ** 4}\n`;
      const noLfs = ['-c', 'filter.lfs.process=', '-c', 'filter.lfs.required=false', '-c', 'filter.lfs.clean=cat', '-c', 'core.hooksPath=/dev/null'];
      const blob = (await execa('git', ['hash-object', '-w', '--no-filters', '--stdin'], { cwd: origin.work, env: origin.env, extendEnv: false, input: pointer })).stdout.trim();
      await origin.git([...noLfs, 'update-index', '--add', '--cacheinfo', `100644,${blob},huge.bin`]);
      await origin.git([...noLfs, 'commit', '-q', '-m', 'A pointer to 5 TB']);
      await origin.git([...noLfs, 'push', '-q', 'origin', 'HEAD:refs/heads/main']);
      const huge = await origin.head();
      for (let i = 0; i < 2; i++) {
        const r = await world.cli(['run']);
        expect(r.exitCode, r.stderr).toBe(1);
        expectOneLineError(r.stderr, 'app', new RegExp(`not enough disk space for the Git LFS objects of ${short(huge)}: it takes 5\\.0TB, \\S+ is free at \\S+ and min_free_space \\(1\\.0MB\\) must stay free; nothing was written`));
        // Asked nothing: no batch request, no download.
        expect(server.requests.slice(before)).toEqual([]);
        expectState(world, 'app', { deployedSha: good, lastFault: 'host' });
        expect(world.state('app')?.failures).toEqual({});
      }
      expect(existsSync(join(path, strategy === 'in-place' ? 'huge.bin' : 'current/huge.bin'))).toBe(false);
      // Once the commit is gone (or the disk has room), the next run deploys.
      await origin.forcePushTo(good);
      const fixed = await origin.commit({ 'v.txt': 'small\n' }, 'Small again');
      const again = await world.cli(['run']);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(world.state('app')?.deployedSha).toBe(fixed);
    });
  }
});
