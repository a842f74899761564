/**
 * Rows 32-35, 54, 86, 89 and 92: a pushed commit's tree attacking pollpray's own bookkeeping or the host's
 * files. Whoever can push controls every name, link and byte of the tree; none of it may
 * steer where pollpray writes, make a release look complete, or make pollpray blame the
 * disk for the commit's content.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { findBinary } from '../helpers/require-env.js';
import type { Origin } from '../helpers/origin.js';
import { pidFile, processGone, until } from '../helpers/pollpray-cli.js';
import { expectOneLineError, expectState, faultWorld, releaseDirs, short } from './fault-world.js';

const GIT = findBinary('git') ?? '/usr/bin/git';

/**
 * Commits a tree git itself would never let you `git add`: main's tree plus one file at
 * `path` (e.g. `.git/config`), built with mktree and pushed. Returns the commit.
 */
async function pushCraftedPath(origin: Origin, path: string, content: string, message: string): Promise<string> {
  const blob = await gitStdin(origin, ['hash-object', '-w', '--stdin'], content);
  const parts = path.split('/');
  let entry = `100644 blob ${blob}\t${parts.pop() ?? ''}`;
  // Innermost tree first; the outermost joins main's own tree.
  while (parts.length > 0) {
    const tree = await gitStdin(origin, ['mktree'], `${entry}\n`);
    entry = `040000 tree ${tree}\t${parts.pop() ?? ''}`;
  }
  const top = await origin.git(['ls-tree', 'HEAD']);
  const tree = await gitStdin(origin, ['mktree'], `${top}\n${entry}\n`);
  const commit = await origin.git(['commit-tree', '-p', 'HEAD', '-m', message, tree]);
  await origin.git(['update-ref', 'refs/heads/main', commit]);
  await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
  return commit;
}

async function gitStdin(origin: Origin, args: string[], input: string): Promise<string> {
  const { execa } = await import('execa');
  const r = await execa('git', args, { cwd: origin.work, env: origin.env, extendEnv: false, input });
  return r.stdout.trim();
}

describe("a commit against pollpray's release bookkeeping", { timeout: 60_000 }, () => {
  it('#32 a committed .pollpray-release (link to shared/.env, link to an absolute path, directory, file) is only the app\'s file: nothing written through it, every such commit deploys', async () => {
    const f = await faultWorld({ strategy: 'releases', target: { shared: ['.env'] } });
    mkdirSync(join(f.path, 'shared'), { recursive: true });
    writeFileSync(join(f.path, 'shared', '.env'), 'SECRET=1\n');
    const victim = join(f.world.dir, 'victim.txt');
    writeFileSync(victim, 'precious\n');
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const marker = join(f.origin.work, '.pollpray-release');

    const cases: Array<[string, () => void]> = [
      ['a link to ../../shared/.env', () => symlinkSync('../../shared/.env', marker)],
      ['a link to an absolute path', () => symlinkSync(victim, marker)],
      ['a directory', () => (mkdirSync(marker), writeFileSync(join(marker, 'x'), 'x\n'))],
      ['a file', () => writeFileSync(marker, '{"sha":"0000000000000000000000000000000000000000"}\n')],
    ];
    for (const [name, plant] of cases) {
      rmSync(marker, { recursive: true, force: true });
      plant();
      writeFileSync(join(f.origin.work, 'case.txt'), `${name}\n`);
      const sha = await f.origin.commit({}, `.pollpray-release as ${name}`);
      const r = await f.world.cli(['run']);
      expect(r.exitCode, `${name}\n${r.stderr}`).toBe(0);
      expect(readFileSync(join(f.path, 'shared', '.env'), 'utf8'), name).toBe('SECRET=1\n');
      expect(readFileSync(victim, 'utf8'), name).toBe('precious\n');
      expect(f.live(), name).toBe(short(sha));
      expectState(f.world, 'app', { deployedSha: sha, lastResult: 'deployed' });
      // The release holds the commit's entry exactly as committed.
      const inRelease = lstatSync(join(f.path, 'current', '.pollpray-release'));
      expect(inRelease.isSymbolicLink() || inRelease.isDirectory() || inRelease.isFile(), name).toBe(true);
      if (name === 'a file') expect(readFileSync(join(f.path, 'current', '.pollpray-release'), 'utf8')).toMatch(/0{40}/);
    }
    // Rolling back still finds the complete releases, by pollpray's own records.
    const rb = await f.world.cli(['rollback', 'app']);
    expect(rb.exitCode, rb.stderr).toBe(0);
    expect(readFileSync(join(f.path, 'current', 'case.txt'), 'utf8')).toBe('a directory\n');
  });

  it('#32 a committed .pollpray-release cannot make a half-built release complete: recovery removes it, rollback never switches to it', async () => {
    const f = await faultWorld({ strategy: 'releases' });
    const w = f.world.dir;
    const deploy = f.world.script('deploy.sh', `[ -f hang ] || exit 0\necho $$ > "${w}/script.pid"\nwhile [ ! -f "${w}/go" ]; do sleep 0.05; done`);
    f.write({ deploy, keep_releases: 5 });
    const first = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const firstRelease = readlinkSync(join(f.path, 'current'));
    const second = await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    expect((await f.world.cli(['run'])).exitCode).toBe(0);

    // The forged marker names the first commit, so a rollback to it would pick this release.
    const forged = await f.origin.commit(
      { hang: '', 'v.txt': 'half-built\n', '.pollpray-release': `${JSON.stringify({ sha: first, completed: '2026-01-01T00:00:00.000Z' })}\n` },
      'forge a complete release',
    );
    const victim = f.world.spawn(['run']);
    await until(() => existsSync(join(w, 'script.pid')), 15_000, 'the build of the forged release to start');
    victim.kill('SIGKILL');
    await victim;
    writeFileSync(join(w, 'go'), '');
    const script = await pidFile(join(w, 'script.pid'));
    await until(() => processGone(script), 10_000, 'the orphaned build to finish');
    const half = releaseDirs(f.path).find((n) => n.endsWith(short(forged)));
    expect(half).toBeDefined();

    const rb = await f.world.cli(['rollback', 'app', short(first)]);
    expect(rb.exitCode, rb.stderr).toBe(0);
    expect(readlinkSync(join(f.path, 'current'))).toBe(firstRelease);
    expectState(f.world, 'app', { deployedSha: first, previousSha: second });
    expect((await f.world.cli(['resume', 'app'])).exitCode).toBe(0);

    // The next run's recovery removes the half-built release; the forged commit itself deploys.
    rmSync(join(w, 'script.pid'));
    writeFileSync(join(w, 'go'), '');
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(releaseDirs(f.path)).not.toContain(half);
    expect(f.world.logText()).toContain(`removed unfinished release ${half}`);
    expect(f.live()).toBe(short(forged));
    expectState(f.world, 'app', { deployedSha: forged, lastResult: 'deployed' });
  });

  it('#33 kill -9 during the export: the next run removes the export tar the killed run left', async () => {
    const f = await faultWorld({ strategy: 'releases' });
    const w = f.world.dir;
    mkdirSync(join(w, 'bin'));
    // Blocks the export's `git archive --output=<file>` (not the /dev/null read of the fetch step).
    f.world.script(
      'bin/git',
      `for a in "$@"; do case "$a" in --output=/dev/null) ;; --output=*) [ -f "${w}/block" ] && { echo $$ > "${w}/archive.pid"; ${GIT} "$@"; while [ ! -f "${w}/go" ]; do sleep 0.05; done; exit 0; } ;; esac; done\nexec ${GIT} "$@"`,
    );
    const env = { PATH: `${join(w, 'bin')}:${process.env.PATH ?? ''}` };
    expect((await f.world.cli(['run'], { env })).exitCode).toBe(0);
    const workDir = join(f.world.stateDir, 'targets', 'app');
    const temps = () => readdirSync(workDir).filter((n) => /export/.test(n));

    writeFileSync(join(w, 'block'), '');
    for (let i = 0; i < 2; i++) {
      rmSync(join(w, 'go'), { force: true });
      rmSync(join(w, 'archive.pid'), { force: true });
      await f.origin.commit({ 'v.txt': `${i}\n`, 'big.bin': 'x'.repeat(256 * 1024) }, `v${i}`);
      const victim = f.world.spawn(['run'], { env });
      await until(() => existsSync(join(w, 'archive.pid')), 15_000, 'the run to reach its export');
      await until(() => temps().some((n) => n.includes(String(victim.pid))), 5_000, 'the export tar to be written');
      victim.kill('SIGKILL');
      await victim;
      writeFileSync(join(w, 'go'), '');
      const archive = await pidFile(join(w, 'archive.pid'));
      await until(() => processGone(archive), 10_000, 'the orphaned git archive to finish');
    }
    expect(temps().length).toBeGreaterThan(0);

    rmSync(join(w, 'block'));
    const head = await f.origin.head();
    const r = await f.world.cli(['run'], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(head));
    expect(temps()).toEqual([]);
  });
});

describe('seeding shared/ from a commit', { timeout: 60_000 }, () => {
  it('#34 links inside the release are seeded verbatim (relative stays relative); a link leaving the release fails the deploy, nothing seeded', async () => {
    const f = await faultWorld({ strategy: 'releases', target: { shared: ['uploads'] } });
    const victim = join(f.world.dir, 'victim');
    mkdirSync(victim);
    writeFileSync(join(victim, 'secret.txt'), 'precious\n');
    const work = f.origin.work;
    mkdirSync(join(work, 'uploads', 'deep'), { recursive: true });
    mkdirSync(join(work, 'static'));
    writeFileSync(join(work, 'static', 'logo.png'), 'png\n');
    symlinkSync('../static/logo.png', join(work, 'uploads', 'logo.png'));
    symlinkSync('../../static/logo.png', join(work, 'uploads', 'deep', 'logo.png'));
    symlinkSync('logo.png', join(work, 'uploads', 'same.png'));

    const bads: Array<[string, () => void, RegExp]> = [
      ['an absolute link', () => symlinkSync(join(victim, 'secret.txt'), join(work, 'uploads', 'evil')), /shared path uploads: the commit's uploads\/evil is a symlink to .*victim\/secret\.txt, outside the release/],
      ['a relative link climbing out', () => symlinkSync('../../../../../victim', join(work, 'uploads', 'deep', 'evil')), /shared path uploads: the commit's uploads\/deep\/evil is a symlink to \.\.\/\.\.\/\.\.\/\.\.\/\.\.\/victim, outside the release/],
    ];
    for (const [name, plant, message] of bads) {
      plant();
      const bad = await f.origin.commit({}, `seed with ${name}`);
      const r = await f.world.cli(['run']);
      expect(r.exitCode, `${name}\n${r.stderr}`).toBe(1);
      expectOneLineError(r.stderr, 'app', message);
      expect(existsSync(join(f.path, 'shared', 'uploads')), name).toBe(false);
      expect(readFileSync(join(victim, 'secret.txt'), 'utf8')).toBe('precious\n');
      expect(f.world.state('app')?.failures).toHaveProperty(bad);
      expect(existsSync(join(f.path, 'current')), name).toBe(false);
      await f.origin.git(['rm', '-q', name === 'an absolute link' ? 'uploads/evil' : 'uploads/deep/evil']);
    }

    const good = await f.origin.commit({ 'v.txt': 'ok\n' }, 'only links inside the release');
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(good));
    const shared = join(f.path, 'shared', 'uploads');
    expect(readlinkSync(join(shared, 'logo.png'))).toBe('../static/logo.png');
    expect(readlinkSync(join(shared, 'deep', 'logo.png'))).toBe('../../static/logo.png');
    expect(readlinkSync(join(shared, 'same.png'))).toBe('logo.png');
    // Nothing points into a release, which pruning would remove.
    expect(readlinkSync(join(f.path, 'current', 'uploads'))).toBe(shared);
  });
});

describe('seeding shared/ from a commit, read from where the links will live', { timeout: 60_000 }, () => {
  it('#92 a link that stays inside the release only through another committed link (shared: [uploads, storage], storage a link in the commit, shared/storage a real directory): refused, nothing seeded', async () => {
    const f = await faultWorld({ strategy: 'releases', target: { shared: ['uploads', 'storage'] } });
    const victim = join(f.world.dir, 'victim');
    mkdirSync(victim);
    writeFileSync(join(victim, 'secret.txt'), 'precious\n');
    // The operator's own shared/storage, a real directory.
    mkdirSync(join(f.path, 'shared', 'storage'), { recursive: true });
    const work = f.origin.work;
    // In the release: storage -> a/b/c/d, so uploads/x climbs back to the release's root (R/victim).
    // In shared/, storage is the operator's directory, and the same climb leads to <world>/victim.
    mkdirSync(join(work, 'a', 'b', 'c', 'd'), { recursive: true });
    writeFileSync(join(work, 'a', 'b', 'c', 'd', 'keep'), '');
    symlinkSync('a/b/c/d', join(work, 'storage'));
    mkdirSync(join(work, 'uploads'));
    expect(join(f.path, 'shared', 'storage', '..', '..', '..', '..', 'victim')).toBe(victim);
    symlinkSync('../storage/../../../../victim', join(work, 'uploads', 'x'));
    const bad = await f.origin.commit({}, 'A link that leaves shared/ once seeded');
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(1);
    expectOneLineError(r.stderr, 'app', /shared path uploads: the commit's uploads\/x is a symlink to .*, outside shared\/ once seeded/);
    expect(existsSync(join(f.path, 'shared', 'uploads'))).toBe(false);
    expect(readFileSync(join(victim, 'secret.txt'), 'utf8')).toBe('precious\n');
    expect(f.world.state('app')?.failures).toHaveProperty(bad);
  });
});

describe('a commit with a .git path', { timeout: 60_000 }, () => {
  for (const strategy of ['in-place', 'releases'] as const) {
    it(`#35 ${strategy}: refused as the commit's fault, naming the path; counted, so backoff applies; no fsck, nothing live touched`, async () => {
      const f = await faultWorld({ strategy });
      const good = await f.origin.head();
      expect((await f.world.cli(['run'])).exitCode).toBe(0);
      // The same refusal for a nested .git and git's other spellings of it (tree-paths.ts has the unit table).
      const paths = strategy === 'releases' ? ['.git/config', '.GIT/config'] : ['sub/.git/hooks/post-checkout', 'a/.Git'];
      for (const [i, path] of paths.entries()) {
        await f.origin.forcePushTo(good);
        const bad = await pushCraftedPath(f.origin, path, '[core]\n\tfsmonitor = touch /tmp/pwned\n', `ship ${path}`);
        const logBefore = f.world.logText().length;
        const r = await f.world.cli(['run']);
        expect(r.exitCode, `${path}\n${r.stderr}`).toBe(1);
        expectOneLineError(r.stderr, 'app', new RegExp(`commit ${short(bad)} contains ${path.replace(/\./g, '\\.')}: `));
        expect(r.stderr).not.toMatch(/damaged|dmesg/);
        expect(f.world.logText().slice(logBefore)).not.toMatch(/fsck|corrupt/);
        expect(f.live()).toBe(short(good));
        expectState(f.world, 'app', { deployedSha: good, lastResult: 'failed' });
        expect((f.world.state('app')?.failures as Record<string, { attempts: number }>)[bad]?.attempts).toBe(1);
        expect(f.calls()).toHaveLength(1);
        if (i > 0) continue;

        // Counted against the commit: the next run waits out the backoff, fetching nothing.
        const logAgain = f.world.logText().length;
        const again = await f.world.cli(['run']);
        expect(again.exitCode, again.stderr).toBe(0);
        expect(f.world.state('app')).toMatchObject({ lastResult: 'failed' });
        expect(f.world.logText().slice(logAgain)).toMatch(/skipped: commit [0-9a-f]{12} failed 1\/\d+ times/);
        expect(f.world.logText().slice(logAgain)).not.toMatch(/fetch|archive/);
      }
      await f.origin.forcePushTo(good);
      const fixed = await f.origin.commit({ 'v.txt': 'fixed\n' }, 'no .git path');
      const r = await f.world.cli(['run']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(f.live()).toBe(short(fixed));
    });
  }
});

describe('an in-place checkout that fails part way', { timeout: 60_000 }, () => {
  it('#89 a commit with a file name longer than the filesystem allows (300 bytes): refused from its listing as the commit\'s fault, the live tree untouched', async () => {
    const f = await faultWorld();
    const good = await f.origin.commit({ 'app.txt': 'good\n' }, 'Good');
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    // Changes app.txt and adds a file git cannot create here (ENAMETOOLONG, after it wrote app.txt).
    await f.origin.commit({ 'app.txt': 'half-deployed\n' }, 'Half');
    const worse = await pushCraftedPath(f.origin, 'x'.repeat(300), 'too long\n', 'A name too long');
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(1);
    // Refused from the tree's listing, before the checkout, as the commit's fault.
    expectOneLineError(r.stderr, 'app', new RegExp(`commit ${short(worse)} contains x{300}: a file name longer than 255 bytes`));
    expect((f.world.state('app')?.failures as Record<string, { attempts: number }>)[worse]?.attempts).toBe(1);
    expect(f.live()).toBe(short(good));
    expect(readFileSync(join(f.path, 'app.txt'), 'utf8')).toBe('good\n');
    expect(execFileSync('git', ['-C', f.path, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' })).toBe('');
    expect(f.calls()).toHaveLength(1);
    expectState(f.world, 'app', { deployedSha: good, lastResult: 'failed' });
  });

  it('#89 a checkout that fails part way for another reason (a directory it cannot write, chattr +i): the deployed commit is checked out again, the script never runs', async () => {
    const f = await faultWorld();
    const good = await f.origin.commit({ 'app.txt': 'good\n', 'locked/keep.txt': 'k\n' }, 'Good');
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const half = await f.origin.commit({ 'app.txt': 'half-deployed\n', 'locked/new.txt': 'new\n' }, 'Half');
    // Not even root may add a file to an immutable directory: git writes app.txt, then fails on locked/new.txt.
    const locked = join(f.path, 'locked');
    execFileSync('chattr', ['+i', locked]);
    onTestFinished(() => execFileSync('chattr', ['-i', locked]));
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(f.live()).toBe(short(good));
    expect(readFileSync(join(f.path, 'app.txt'), 'utf8')).toBe('good\n');
    expect(execFileSync('git', ['-C', f.path, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' })).toBe('');
    expect(f.calls()).toHaveLength(1);
    expectState(f.world, 'app', { deployedSha: good, lastResult: 'failed' });
    expect(f.world.logText()).toMatch(new RegExp(`checkout of ${short(half)} failed part way: checked out ${short(good)} again`));
  });
});

describe('a commit whose paths hold a newline', { timeout: 60_000 }, () => {
  it('#86 a submodule path with a newline and a forged log line after it: the log keeps one line per entry (the newline shown as ^J)', async () => {
    const f = await faultWorld();
    const forged = 'FORGED 2026-01-01T00:00:00.000Z INFO  [app] @000000000000 done: deployed 000000000000 "all good"';
    const head = await f.origin.head();
    // A gitlink (submodule commit) named `vendor\n<forged>`, next to main's own tree (mktree -z: the name holds a newline).
    const top = await f.origin.git(['ls-tree', '-z', 'HEAD']);
    const tree = await gitStdin(f.origin, ['mktree', '-z'], `${top}160000 commit ${head}\tvendor\n${forged}\0`);
    const commit = await f.origin.git(['commit-tree', '-p', 'HEAD', '-m', 'A submodule with a newline in its path', tree]);
    await f.origin.git(['update-ref', 'refs/heads/main', commit]);
    await f.origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = f.world.logText().trimEnd().split('\n');
    // Every line is an entry of pollpray's: a time, then its level.
    expect(lines.filter((l) => !/^\d{4}-\d\d-\d\dT[\d:.]+Z (ERROR|WARN |INFO |DEBUG)/.test(l))).toEqual([]);
    const warned = lines.filter((l) => l.includes(forged));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(/ WARN .*has submodules, deployed as empty directories: vendor\^JFORGED /);
  });
});

describe("a commit's own .gitattributes", { timeout: 60_000 }, () => {
  for (const strategy of ['in-place', 'releases'] as const) {
    it(`#54 ${strategy}: export-ignore and export-subst change nothing: every deployed file is the commit's blob, byte for byte`, async () => {
      const f = await faultWorld({ strategy });
      const sha = await f.origin.commit(
        {
          '.gitattributes': 'secret.txt export-ignore\nver.txt export-subst\n',
          'secret.txt': 'only in the commit\n',
          'ver.txt': 'commit $Format:%H$ by $Format:%an$\n',
          'deep/.gitattributes': '* export-ignore\n',
          'deep/app.js': 'console.log(1);\n',
        },
        'attributes that would bend an export',
      );
      const r = await f.world.cli(['run']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(f.live()).toBe(short(sha));
      const root = strategy === 'releases' ? join(f.path, 'current') : f.path;
      const files = (await f.origin.git(['ls-tree', '-r', '--name-only', sha])).split('\n').filter(Boolean);
      expect(files).toEqual(expect.arrayContaining(['secret.txt', 'ver.txt', 'deep/app.js']));
      for (const file of files) {
        expect(existsSync(join(root, file)), file).toBe(true);
        const blob = execFileSync('git', ['cat-file', 'blob', `${sha}:${file}`], { cwd: f.origin.bare, env: f.origin.env });
        expect(readFileSync(join(root, file)).equals(blob), `${file} differs from the commit's blob`).toBe(true);
      }
    });
  }
});
