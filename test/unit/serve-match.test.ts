/**
 * Which targets a webhook delivery may wake, table by table: repository URLs as git
 * reads them, serve.allow entries, and host-and-path matching (never owner/name alone).
 */
import { describe, expect, it } from 'vitest';
import type { Target } from '../../src/config/normalise.js';
import {
  allowEntryHasHost,
  allowEntryMatches,
  allowNamesTarget,
  locateUrl,
  normaliseHost,
  repoAllowed,
  sameRepository,
  targetLocation,
  targetsForPush,
  targetsOfRepository,
} from '../../src/serve/match.js';

const at = (host: string, path: string) => ({ host, path });

describe('locateUrl', () => {
  it.each([
    ['  git@GitHub.com:Acme/Todo.git  ', { host: 'github.com', path: 'acme/todo', local: false }],
    ['github.com:acme/todo', { host: 'github.com', path: 'acme/todo', local: false }],
    ['ssh://git@example.com./acme//todo.git//', { host: 'example.com', path: 'acme/todo', local: false }],
    ['https://example.com/acme/t%6Fdo.GIT', { host: 'example.com', path: 'acme/todo', local: false }],
    ['https://[::1]:8443/a/b', { host: 'localhost', path: 'a/b', local: false }],
    ['http://0:0:0:0:0:0:0:1/a/b', undefined],
    ['FILE:///srv/git/a%20b.git', { host: 'localhost', path: 'srv/git/a b', local: true }],
    ['./relative/repo.git', { host: 'localhost', path: './relative/repo', local: true }],
    ['/', undefined],
    ['file:///', undefined],
    ['https://example.com/', undefined],
    ['https://example.com/.git', undefined],
    ['git@example.com:', undefined],
    ['git@[::1]:acme/app.git', { host: 'localhost', path: 'acme/app', local: false }],
    ['[git@fe80::2]:acme/app.git', { host: 'fe80::2', path: 'acme/app', local: false }],
    ['ssh://git@[::1]:2222/acme/app.git', { host: 'localhost', path: 'acme/app', local: false }],
    ['git@example.com:/', undefined],
    ['not a url', undefined],
    ['https://exa mple.com/a', undefined],
  ])('%j → %j', (url, want) => {
    expect(locateUrl(url)).toEqual(want);
  });

  it.each([
    ['LOCALHOST', 'localhost'],
    ['127.0.0.1', 'localhost'],
    ['[::1]', 'localhost'],
    ['0:0:0:0:0:0:0:1', 'localhost'],
    [' Example.COM. ', 'example.com'],
    ['[2001:db8::1]', '2001:db8::1'],
  ])('host %j is %j', (host, want) => {
    expect(normaliseHost(host)).toBe(want);
  });
});

describe('targets and deliveries', () => {
  it('a target behind an ssh alias answers to its own host and the resolved one, once each', () => {
    expect(targetLocation('git@gh-todo:acme/todo.git', 'GitHub.com')).toEqual({ hosts: ['gh-todo', 'github.com'], path: 'acme/todo', local: false });
    expect(targetLocation('git@github.com:acme/todo.git', 'github.com')).toEqual({ hosts: ['github.com'], path: 'acme/todo', local: false });
    expect(targetLocation('git@github.com:acme/todo.git')).toEqual({ hosts: ['github.com'], path: 'acme/todo', local: false });
    expect(targetLocation('nonsense')).toBeUndefined();
  });

  it('same host and path; a local target by suffix on a whole segment only', () => {
    const local = targetLocation('/var/lib/gitea/repositories/acme/todo.git')!;
    expect(sameRepository(local, at('localhost', 'acme/todo'))).toBe(true);
    expect(sameRepository(local, at('localhost', 'cme/todo'))).toBe(false);
    expect(sameRepository(local, at('example.com', 'acme/todo'))).toBe(false);
    const remote = targetLocation('git@example.com:group/acme/todo.git')!;
    expect(sameRepository(remote, at('example.com', 'group/acme/todo'))).toBe(true);
    expect(sameRepository(remote, at('example.com', 'acme/todo'))).toBe(false);
    expect(sameRepository(remote, at('localhost', 'group/acme/todo'))).toBe(false);
  });

  const t = (name: string, repo: string, extra: Partial<Target> = {}) => ({ target: { name, repo, branch: 'main', ...extra } as Target, location: targetLocation(repo) });

  it('a push wakes its branch targets and, for any tag push, its tag targets; a target without a location never', () => {
    const targets = [
      t('main', 'git@example.com:acme/app.git'),
      t('stage', 'git@example.com:acme/app.git', { branch: 'stage' }),
      t('tags', 'git@example.com:acme/app.git', { tags: 'v*' } as Partial<Target>),
      t('other', 'git@example.com:acme/other.git'),
      { target: { name: 'nowhere', repo: '?', branch: 'main' } as Target, location: undefined },
    ];
    const here = [at('example.com', 'acme/app')];
    const names = (refs: string[]) => targetsForPush(targets, here, refs).map((x) => x.name);
    expect(names(['refs/heads/main'])).toEqual(['main']);
    expect(names(['refs/heads/stage', 'refs/heads/main'])).toEqual(['main', 'stage']);
    expect(names(['refs/tags/v1.0.0'])).toEqual(['tags']);
    expect(names(['refs/heads/mainline', 'refs/heads/xmain'])).toEqual([]);
    expect(targetsOfRepository(targets, here).map((x) => x.target.name)).toEqual(['main', 'stage', 'tags']);
    expect(targetsOfRepository(targets, [at('example.com', 'nope'), at('example.com', 'acme/other')]).map((x) => x.target.name)).toEqual(['other']);
  });
});

describe('serve.allow', () => {
  it.each([
    ['github.com/acme/todo', true],
    ['GitHub.com/Acme/Todo.git', true],
    ['  github.com/acme/todo  ', true],
    ['github.com/acme/*', true],
    ['github.com/*', false],
    ['github.com/acme/tod', false],
    ['gitlab.com/acme/todo', false],
    ['acme/todo', true],
    ['acme/*', true],
    ['other/todo', false],
    ['/acme/todo', false],
    ['acmetodo', false],
    ['github.com/acme/todo/*', false],
  ])('%j allows github.com/acme/todo: %s', (entry, want) => {
    expect(allowEntryMatches(entry, at('github.com', 'acme/todo'))).toBe(want);
  });

  it('owner/* is one segment: not the owner itself, not a subgroup', () => {
    expect(allowEntryMatches('gitlab.com/group/*', at('gitlab.com', 'group/sub/app'))).toBe(false);
    expect(allowEntryMatches('gitlab.com/group/sub/*', at('gitlab.com', 'group/sub/app'))).toBe(true);
    expect(allowEntryMatches('gitlab.com/group/*', at('gitlab.com', 'group'))).toBe(false);
    expect(allowEntryMatches('gitlab.com/group/*', at('gitlab.com', 'group/'))).toBe(false);
    expect(allowEntryMatches('gitlab.com/group/*', at('gitlab.com', 'groupie/app'))).toBe(false);
  });

  it.each([
    ['github.com/acme/todo', true],
    ['localhost/acme/todo', true],
    ['[::1]/acme/todo', true],
    ['git-host.internal.example/a/b', true],
    ['github.com/acme', false],
    ['acme/todo', false],
    ['acme/todo/sub', false],
    ['my_host.com/a/b', false],
    ['.com/a/b', false],
    ['[::1/a/b', false],
  ])('%j names a host: %s', (entry, want) => {
    expect(allowEntryHasHost(entry)).toBe(want);
  });

  it('a repository is allowed when any entry matches any of its locations', () => {
    expect(repoAllowed(['gitlab.com/x/*', 'github.com/acme/todo'], [at('example.com', 'acme/todo'), at('github.com', 'acme/todo')])).toBe(true);
    expect(repoAllowed(['gitlab.com/x/*'], [at('github.com', 'acme/todo')])).toBe(false);
    expect(repoAllowed([], [at('github.com', 'acme/todo')])).toBe(false);
  });

  it('an entry names a target through any of its hosts, and a local target through any tail of its path', () => {
    expect(allowNamesTarget('github.com/acme/todo', targetLocation('git@gh-alias:acme/todo.git', 'github.com')!)).toBe(true);
    expect(allowNamesTarget('localhost/acme/todo', targetLocation('/srv/repos/acme/todo.git')!)).toBe(true);
    expect(allowNamesTarget('localhost/repos/acme/todo', targetLocation('/srv/repos/acme/todo.git')!)).toBe(true);
    expect(allowNamesTarget('github.com/todo', targetLocation('git@github.com:acme/todo.git')!)).toBe(false);
    expect(allowNamesTarget('acme/todo', targetLocation('/srv/repos/acme/todo.git')!)).toBe(true);
  });
});

describe('URL and entry edges (each found by a mutant that survived)', () => {
  it.each([
    ['/srv/git/app/.git', 'localhost/srv/git/app'],
    ['file:///srv/git/app/.git', 'localhost/srv/git/app'],
    // Only a leading file:// or scheme:// says what kind of URL it is.
    ['https://example.com/acme/file://x', 'example.com/acme/file:/x'],
    ['/srv/file://x', 'localhost/srv/file:/x'],
    ['git@github.com:acme/app://x', 'github.com/acme/app:/x'],
  ])('%s is at %s', (url, where) => {
    const l = locateUrl(url);
    expect(l && `${l.host}/${l.path}`).toBe(where);
  });

  it.each([
    ['a file URL with a broken %-escape', 'file:///srv/%zz/app.git'],
    ['an ssh URL with a space in its host', 'ssh://git@exa mple.com/acme/app.git'],
  ])('%s names no repository', (_what, url) => {
    expect(locateUrl(url)).toBeUndefined();
  });

  it('only a whole [address] loses its brackets', () => {
    expect(normaliseHost('[::1]')).toBe('localhost');
    expect(normaliseHost('[fe80::1]')).toBe('fe80::1');
    expect(normaliseHost('x[::1]')).toBe('x[::1]');
    expect(normaliseHost('[::1]x')).toBe('[::1]x');
  });

  it.each([
    [' github.com/acme/todo ', true],
    ['[::1]/acme/todo', true],
    ['github.com_/acme/todo', false],
    ['x[::1]/acme/todo', false],
    ['[::1]x/acme/todo', false],
  ])('allow entry %j names a host: %s', (entry, hasHost) => {
    expect(allowEntryHasHost(entry)).toBe(hasHost);
  });
});
