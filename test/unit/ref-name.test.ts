import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { branchNameProblem, isFullSha } from '../../src/git/ref-name.js';

/** What real git says: `git check-ref-format --branch <name>` exits 0 for a valid branch name. */
function gitAccepts(name: string): boolean {
  try {
    // argv array, no shell: the name reaches git exactly as written.
    execFileSync('git', ['check-ref-format', '--branch', name], { stdio: 'ignore', cwd: '/' });
    return true;
  } catch {
    return false;
  }
}

const VALID = ['main', 'develop', 'feature/login', 'release-1.2', 'v1.0', 'a@b', 'x/y/z', 'fëature', 'hotfix_2024.06', 'user/name/wip'];
const INVALID = [
  'a b',
  'a\tb',
  'a\x7fb',
  'a~b',
  'a^b',
  'a:b',
  'a?b',
  'a*b',
  'a[b',
  'a\\b',
  '/a',
  'a/',
  'a//b',
  'a.',
  'a..b',
  '.a',
  'a/.b',
  'foo.lock',
  'a/b.lock',
  'a.lock/b',
  'a@{b',
  '',
];
/** Refused by us on top of git: an option to any git command taking it as an argument, or HEAD's shorthand. */
const STRICTER = ['-x', '--upload-pack=x', '@'];

describe('branchNameProblem', () => {
  it.each(VALID)('accepts %j, as git does', (name) => {
    expect(branchNameProblem(name)).toBeUndefined();
    expect(gitAccepts(name)).toBe(true);
  });

  it.each(INVALID)('refuses %j, as git does', (name) => {
    expect(branchNameProblem(name)).toBeTypeOf('string');
    expect(gitAccepts(name)).toBe(false);
  });

  it.each(STRICTER)('refuses %j whatever this git version says', (name) => {
    expect(branchNameProblem(name)).toBeTypeOf('string');
  });

  it('names the reason for a leading "-"', () => {
    expect(branchNameProblem('--upload-pack=x')).toBe('starts with "-" and could be read as an option');
  });

  it('refuses "HEAD", as git does (it would shadow HEAD)', () => {
    expect(gitAccepts('HEAD')).toBe(false);
    expect(branchNameProblem('HEAD')).toBeTypeOf('string');
  });
});

describe('isFullSha', () => {
  it.each([
    ['a'.repeat(40), true],
    ['0123456789abcdef'.repeat(4), true],
    ['a'.repeat(39), false],
    ['A'.repeat(40), false],
    ['g'.repeat(40), false],
    ['main', false],
  ])('%s → %s', (value, expected) => {
    expect(isFullSha(value)).toBe(expected);
  });
});

describe('what validate says about a bad branch name', () => {
  it.each([
    ['', 'is empty'],
    ['-x', 'starts with "-" and could be read as an option'],
    ['@', 'is "@", which git reserves'],
    ['HEAD', 'is "HEAD", which git reserves'],
    ['a b', 'contains a space, control character or one of ~^:?*[\\'],
    ['a..b', 'contains ".."'],
    ['a@{b', 'contains "@{"'],
    ['a//b', 'contains "//"'],
    ['/a', 'starts or ends with "/"'],
    ['a/', 'starts or ends with "/"'],
    ['a.', 'ends with "."'],
    ['a/.b', 'has a path component starting with "."'],
    ['a.lock/b', 'has a path component ending in ".lock"'],
  ])('%j %s', (name, problem) => {
    expect(branchNameProblem(name)).toBe(problem);
  });

  it('a full SHA is exactly 40 or 64 lower-case hex digits, nothing around it', () => {
    expect(isFullSha('a'.repeat(40))).toBe(true);
    expect(isFullSha('b'.repeat(64))).toBe(true);
    expect(isFullSha(`x${'a'.repeat(40)}`)).toBe(false);
    expect(isFullSha(`${'a'.repeat(40)}\n`)).toBe(false);
    expect(isFullSha(`${'a'.repeat(40)}x`)).toBe(false);
    expect(isFullSha('a'.repeat(41))).toBe(false);
    expect(isFullSha('A'.repeat(40))).toBe(false);
  });
});
