/** Who owns what pollpray would write; as root, files handed to nobody (65534) stand for another user. */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { normalise } from '../../src/config/normalise.js';
import { OwnershipError } from '../../src/errors.js';
import { checkoutRepo, fetchSound } from '../../src/git/repair.js';
import { localOrigin, ownershipHint, ownershipProblems, requireOwnership } from '../../src/host/ownership.js';
import { userName } from '../../src/host/users.js';

const base = mkdtempSync(join(tmpdir(), 'pp-owner-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

function config(strategy: 'in-place' | 'releases' = 'in-place') {
  return normalise(
    { state_dir: join(base, 'state'), log: { dir: join(base, 'log') }, targets: { app: { repo: `file://${join(base, 'origin.git')}`, path: join(base, 'www', 'app'), strategy } } } as never,
    join(base, 'pollpray.yaml'),
  );
}

describe('localOrigin', () => {
  it.each([
    ['file:///srv/git/app.git', '/srv/git/app.git'],
    ['file:///srv/git/a%20b.git', '/srv/git/a b.git'],
    ['/srv/git/app.git', '/srv/git/app.git'],
    ['git@github.com:acme/app.git', undefined],
    ['https://example.com/app.git', undefined],
  ])('%s → %s', (repo, dir) => expect(localOrigin(repo)).toBe(dir));
});

describe('ownership hints', () => {
  const p = { what: 'checkout', path: '/srv/app', key: 'targets.app.path', owner: 1001 };
  it('root is told to run as the owner', () => {
    expect(ownershipHint(p, 0, 'pollpray run')).toBe(`run it as ${userName(1001)}: sudo -u ${userName(1001)} pollpray run`);
  });
  it('a user facing root\'s leftovers is told the chown', () => {
    expect(ownershipHint({ ...p, owner: 0 }, 1001, 'pollpray run')).toMatch(/^give it back to \S+: sudo chown -R \S+ \/srv\/app \(a run as root left it\)$/);
  });
});

describe.runIf(asRoot)('ownershipProblems / requireOwnership (as root)', () => {
  it('nothing exists yet: nothing to complain about', () => {
    expect(ownershipProblems(config(), config().targets)).toEqual([]);
  });

  it('names the target\'s checkout before the shared dirs, and stops with exit 3', () => {
    const c = config();
    for (const dir of [c.stateDir, join(base, 'www', 'app', '.git')]) mkdirSync(dir, { recursive: true });
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, c.stateDir, join(base, 'www')]);
    const problems = ownershipProblems(c, c.targets);
    expect(problems.map((p) => [p.what, p.key, p.target])).toEqual([
      ['checkout', 'targets.app.path', 'app'],
      ['checkout', 'targets.app.path', 'app'],
      ['state dir', 'state_dir', undefined],
    ]);
    let thrown: unknown;
    try {
      requireOwnership(c, c.targets);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(OwnershipError);
    expect((thrown as OwnershipError).exitCode).toBe(3);
    expect((thrown as OwnershipError).oneLine()).toMatch(new RegExp(`^app: checkout ${join(base, 'www', 'app')} \\(targets\\.app\\.path\\) is owned by ${userName(NOBODY)}, not root: stopped before writing anything \\(and 2 more paths; pollpray doctor lists them\\) \\(fix: run it as ${userName(NOBODY)}: sudo -u ${userName(NOBODY)} pollpray`));
    rmSync(join(base, 'www'), { recursive: true, force: true });
    rmSync(c.stateDir, { recursive: true, force: true });
  });

  it('repair never moves a repository another user owns, even one git cannot read', async () => {
    const c = config();
    const target = c.targets[0]!;
    mkdirSync(target.path, { recursive: true });
    execFileSync('git', ['init', '-q', target.path]);
    // HEAD gone: git no longer recognises it, which is what made pollpray "repair" it before.
    unlinkSync(join(target.path, '.git', 'HEAD'));
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, join(base, 'www')]);
    const work = join(base, 'work');
    mkdirSync(work, { recursive: true });
    const repo = checkoutRepo(target, work);
    const before = readdirSync(join(target.path, '.git')).sort();
    await expect(fetchSound(target, repo, 'a'.repeat(40), async () => 'fetched')).rejects.toBeInstanceOf(OwnershipError);
    expect(readdirSync(join(target.path, '.git')).sort()).toEqual(before);
    expect(existsSync(repo.quarantine)).toBe(false);
    chownSync(target.path, 0, 0);
  });
});
