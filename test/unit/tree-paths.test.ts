import { describe, expect, it } from 'vitest';
import { forbiddenComponent, unquoteGitPath } from '../../src/git/tree-paths.js';

describe('forbiddenComponent: the paths git refuses to check out', () => {
  it.each([
    ['.git/config', '.git'],
    ['sub/.git/hooks/post-checkout', '.git'],
    ['.GIT/config', '.GIT'],
    ['a/.Git', '.Git'],
    ['.git./config', '.git.'],
    ['.git  /x', '.git  '],
    ['GIT~1/config', 'GIT~1'],
    ['a/../b', '..'],
    ['.git::$INDEX_ALLOCATION/config', '.git::$INDEX_ALLOCATION'],
    ['x/.git\\hooks', '.git\\hooks'],
    ['git~1.', 'git~1.'],
  ])('%s is refused (%s)', (path, component) => {
    expect(forbiddenComponent(path)).toBe(component);
  });
  it.each(['.gitignore', '.gitmodules', 'x.git', 'git/config', '.github/workflows/ci.yml', 'a/.git-blame-ignore-revs', 'git~2', '.gitx', 'git~10'])('%s is fine', (path) => {
    expect(forbiddenComponent(path)).toBeUndefined();
  });
});

describe('unquoteGitPath', () => {
  it('reads git\'s C-quoted paths back', () => {
    expect(unquoteGitPath('"a\\tb/\\"q\\"\\\\"')).toBe('a\tb/"q"\\');
    expect(unquoteGitPath('"caf\\303\\251/.git"')).toBe('café/.git');
    expect(unquoteGitPath('"x\\n.git/config"')).toBe('x\n.git/config');
    expect(unquoteGitPath('plain/path')).toBe('plain/path');
  });
});
