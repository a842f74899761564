/** The pure parts of submodule handling: which URLs may be fetched, how relative ones resolve, what ls-tree and .gitmodules say. */
import { describe, expect, it } from 'vitest';
import { isLocalRepo, parseGitlinkLine, parseGitmodules, protocolConfig, resolveSubmoduleUrl, submoduleUrlProblem, withinPaths } from '../../src/git/submodules.js';

describe('submoduleUrlProblem', () => {
  it.each([
    ['git@github.com:acme/lib.git', false],
    ['ssh://git@github.com/acme/lib.git', false],
    ['git+ssh://git@github.com/acme/lib.git', false],
    ['https://github.com/acme/lib.git', false],
    ['http://git.example/lib.git', false],
    ['git://git.example/lib.git', false],
    ['file:///srv/git/lib.git', true],
    ['/srv/git/lib.git', true],
  ])('%s is allowed (local target only: %s)', (url, localOnly) => {
    expect(submoduleUrlProblem(url, true)).toBeUndefined();
    if (localOnly) expect(submoduleUrlProblem(url, false)).toMatch(/only when the target's own repo is local/);
    else expect(submoduleUrlProblem(url, false)).toBeUndefined();
  });

  it.each([
    ['ext::sh -c touch% /tmp/pwned', /remote helper \(ext::\)/],
    ['fd::3', /remote helper/],
    ['file::/srv/x', /remote helper/],
    ['-uhelp', /starts with "-"/],
    ['--upload-pack=touch /tmp/x', /starts with "-"/],
    ['https://host/a b', /spaces or control/],
    ['ftp://host/lib.git', /not allowed/],
    ['', /empty/],
  ])('%s is refused even for a local target', (url, why) => {
    expect(submoduleUrlProblem(url, true)).toMatch(why);
    expect(submoduleUrlProblem(url, false)).toMatch(why);
  });
});

describe('resolveSubmoduleUrl', () => {
  it.each([
    ['../lib.git', 'git@github.com:acme/app.git', 'git@github.com:acme/lib.git'],
    ['../../other/lib.git', 'git@github.com:acme/app.git', 'git@github.com:other/lib.git'],
    ['../lib.git', 'ssh://git@host:2222/srv/git/app.git', 'ssh://git@host:2222/srv/git/lib.git'],
    ['./lib.git', 'https://host/acme/app', 'https://host/acme/app/lib.git'],
    ['../lib.git', 'file:///srv/git/app.git/', 'file:///srv/git/lib.git'],
    ['../lib.git', '/srv/git/app.git', '/srv/git/lib.git'],
    ['https://elsewhere/x.git', 'git@github.com:acme/app.git', 'https://elsewhere/x.git'],
    ['../lib.git', 'git@[::1]:acme/app.git', 'git@[::1]:acme/lib.git'],
    ['../../lib.git', 'git@[::1]:acme/app.git', 'git@[::1]:lib.git'],
  ])('%s against %s is %s', (url, base, want) => {
    expect(resolveSubmoduleUrl(url, base)).toBe(want);
  });

  it('never climbs above the host', () => {
    expect(resolveSubmoduleUrl('../../../x.git', 'git@github.com:acme/app.git')).toBeUndefined();
    expect(resolveSubmoduleUrl('../../x.git', 'https://host/app.git')).toBeUndefined();
  });
});

it('parseGitlinkLine finds the mode 160000 entries of ls-tree -r, quoted paths unquoted', () => {
  const sha = 'a'.repeat(40);
  expect(parseGitlinkLine(`100644 blob ${'b'.repeat(40)}\tREADME`)).toBeUndefined();
  expect(parseGitlinkLine(`160000 commit ${sha}\tvendor/lib`)).toEqual({ sha, path: 'vendor/lib' });
  expect(parseGitlinkLine(`160000 commit ${sha}\t"themes/my\\ttheme"`)).toEqual({ sha, path: 'themes/my\ttheme' });
});

it('parseGitmodules reads path and url by submodule name from git config -z', () => {
  const out = 'submodule.lib.path\nvendor/lib\0submodule.lib.url\n../lib.git\0submodule.a.b.url\nhttps://h/x\0';
  const m = parseGitmodules(out);
  expect(m.get('lib')).toEqual({ path: 'vendor/lib', url: '../lib.git' });
  expect(m.get('a.b')).toEqual({ url: 'https://h/x' });
});

it('withinPaths keeps what is inside the sparse paths', () => {
  expect(withinPaths('site/themes/x', ['site/'])).toBe(true);
  expect(withinPaths('site', ['site/'])).toBe(true);
  expect(withinPaths('sitemap/x', ['site/'])).toBe(false);
  expect(withinPaths('anything', [])).toBe(true);
});

it('a local target is file:// or a path; protocol.file.allow follows it, ext is never allowed', () => {
  expect(isLocalRepo('file:///srv/app.git')).toBe(true);
  expect(isLocalRepo('/srv/app.git')).toBe(true);
  expect(isLocalRepo('git@github.com:acme/app.git')).toBe(false);
  expect(isLocalRepo('https://github.com/acme/app.git')).toBe(false);
  expect(protocolConfig(false)).toEqual(expect.arrayContaining(['protocol.allow=never', 'protocol.file.allow=never', 'protocol.ext.allow=never', 'protocol.ssh.allow=always']));
  expect(protocolConfig(true)).toEqual(expect.arrayContaining(['protocol.file.allow=always', 'protocol.ext.allow=never']));
});
