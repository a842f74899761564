import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { gitlinksIn, usesLfs } from '../../src/git/submodules.js';
import { knownTreeFacts, parseLfsPointer, refuseForbiddenPaths } from '../../src/git/tree-paths.js';
import { isolatedGitEnv } from '../helpers/origin.js';

/** A real repository; `clone` is a second path to the same objects, which no listing has seen. */
function makeRepo() {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-tree-facts-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const work = join(dir, 'work');
  mkdirSync(work);
  const env = isolatedGitEnv(dir);
  const git = (args: string[], cwd = work) => execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();
  git(['init', '-q', '-b', 'main']);
  git(['config', 'user.name', 'Test']);
  git(['config', 'user.email', 'test@pollpray.invalid']);
  const commit = (files: Record<string, string>, links: Record<string, string> = {}) => {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(work, path, '..'), { recursive: true });
      writeFileSync(join(work, path), content);
      git(['add', '--', path]);
    }
    for (const [path, sha] of Object.entries(links)) git(['update-index', '--add', '--cacheinfo', `160000,${sha},${path}`]);
    git(['commit', '-q', '--no-gpg-sign', '-m', 'c']);
    return git(['rev-parse', 'HEAD']);
  };
  const file = join(dir, 'pollpray.yaml');
  writeFileSync(file, `state_dir: ${join(dir, 'state')}\ntargets:\n  app:\n    repo: ${join(dir, 'origin.git')}\n    path: ${work}\n`);
  chmodSync(file, 0o640);
  const target = loadConfig(file, { uid: 1000, home: dir, hostname: 'web-01' }).targets[0]!;
  const clone = () => {
    const other = join(dir, `clone-${Math.random().toString(36).slice(2)}`);
    git(['clone', '-q', '--no-checkout', work, other], dir);
    return other;
  };
  return { work, commit, target, clone, env };
}

describe('the forbidden-path listing answers the submodule and LFS checks of the same commit', () => {
  it('a nested .gitattributes with filter=lfs and a gitlink under an unusual name: the same answers as listing and grepping again', async () => {
    const repo = makeRepo();
    const first = repo.commit({ 'README': 'x\n' });
    const sha = repo.commit({ 'deep/er/.gitattributes': '*.bin filter=lfs diff=lfs merge=lfs -text\n' }, { 'vendor/café lib': first });
    await refuseForbiddenPaths(repo.target, repo.work, sha);
    expect(knownTreeFacts(repo.work, sha)).toEqual({ gitlinks: [{ path: 'vendor/café lib', sha: first }], hasAttributes: true, size: { bytes: expect.any(Number), entries: expect.any(Number) } });
    expect(await usesLfs(repo.target, repo.work, sha)).toBe(true);
    // Where no listing ran, the checks list and grep themselves: the same answers.
    const other = repo.clone();
    expect(knownTreeFacts(other, sha)).toBeUndefined();
    expect(await gitlinksIn(repo.target, other, sha)).toEqual(await gitlinksIn(repo.target, repo.work, sha));
    expect(await usesLfs(repo.target, other, sha)).toBe(true);
  });

  it('no .gitattributes anywhere: no LFS, without a grep; one that does not route to lfs still gets its grep', async () => {
    const repo = makeRepo();
    const plain = repo.commit({ 'src/a.txt': 'filter=lfs is only text here\n' });
    await refuseForbiddenPaths(repo.target, repo.work, plain);
    // What its files take once written: their bytes, and the two entries (src/, src/a.txt).
    expect(knownTreeFacts(repo.work, plain)).toEqual({ gitlinks: [], hasAttributes: false, size: { bytes: 'filter=lfs is only text here\n'.length, entries: 2 } });
    expect(await usesLfs(repo.target, repo.work, plain)).toBe(false);
    const attrs = repo.commit({ '.gitattributes': '*.txt text\n' });
    await refuseForbiddenPaths(repo.target, repo.work, attrs);
    expect(knownTreeFacts(repo.work, attrs)?.hasAttributes).toBe(true);
    expect(await usesLfs(repo.target, repo.work, attrs)).toBe(false);
  });
});

describe('with lfs, the listing reads the sizes the LFS pointers state', () => {
  const pointer = (oid: string, size: number) => `version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${size}\n`;

  it('each object once, at its stated size; only within paths; text that only quotes a pointer, or a big file, adds nothing', async () => {
    const repo = makeRepo();
    const [a, b, c] = ['a', 'b', 'c'].map((x) => x.repeat(64)) as [string, string, string];
    const sha = repo.commit({
      'site/video.bin': pointer(a, 5 * 1024 ** 4),
      'site/copy.bin': pointer(a, 5 * 1024 ** 4),
      'site/clip.bin': pointer(b, 1000),
      'other/outside.bin': pointer(c, 7),
      // A README quoting a pointer is no pointer (git-lfs decodes none from it).
      'site/README.md': `An LFS pointer looks like this:\n\n${pointer(c, 123456789)}`,
      'site/big.txt': `${pointer(c, 42)}${'x'.repeat(2000)}\n`,
    });
    const target = { ...repo.target, lfs: true, paths: ['site/'] };
    await refuseForbiddenPaths(target, repo.work, sha);
    const lfs = knownTreeFacts(repo.work, sha)?.size?.lfs;
    expect(lfs?.sort((x, y) => x.oid.localeCompare(y.oid))).toEqual([{ oid: a, size: 5 * 1024 ** 4 }, { oid: b, size: 1000 }]);
    // Without lfs: no pointers read.
    const plain = repo.clone();
    await refuseForbiddenPaths(repo.target, plain, sha);
    expect(knownTreeFacts(plain, sha)?.size?.lfs).toBeUndefined();
  });

  it('a pointer is what git-lfs decodes as one: version first, oid sha256 and size lines', () => {
    const oid = 'd'.repeat(64);
    expect(parseLfsPointer(pointer(oid, 12).split('\n'))).toEqual({ oid, size: 12 });
    expect(parseLfsPointer(['version https://git-lfs.github.com/spec/v1', `oid sha256:${oid}`, 'size 12', 'x-ext 1', ''])).toEqual({ oid, size: 12 });
    expect(parseLfsPointer(['hello', `oid sha256:${oid}`, 'size 12'])).toBeUndefined();
    expect(parseLfsPointer(['version https://git-lfs.github.com/spec/v1', `oid sha256:${oid}`])).toBeUndefined();
    expect(parseLfsPointer(['version https://git-lfs.github.com/spec/v1', `oid sha256:${oid}`, 'size 12', 'some prose here'])).toBeUndefined();
  });
});

it('a full cache drops only its oldest listing: the one a running cycle made a moment ago stays for its disk checks', async () => {
  const repo = makeRepo();
  const sha = repo.commit({ 'big.txt': 'x'.repeat(5000) });
  // 64 listings fill the cache; the last, the newest, is the one a cycle is about to read.
  const others = Array.from({ length: 63 }, () => repo.clone());
  for (const dir of others) await refuseForbiddenPaths(repo.target, dir, sha);
  await refuseForbiddenPaths(repo.target, repo.work, sha);
  // One more (another target's listing) must not take it.
  await refuseForbiddenPaths(repo.target, repo.clone(), sha);
  expect(knownTreeFacts(repo.work, sha)?.size?.bytes).toBeGreaterThanOrEqual(5000);
  expect(knownTreeFacts(others[0]!, sha)).toBeUndefined();
  expect(knownTreeFacts(others[1]!, sha)).toBeDefined();
}, 60_000);
