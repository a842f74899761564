import { describe, expect, it } from 'vitest';
import { newestTag, peeledTags, tagPatternProblem, tagTooLong, tagVersion, tooLongTags } from '../../src/git/tags.js';
import { compareVersions, parseRange, parseVersion, satisfies } from '../../src/git/version.js';
import { parseLsRemote } from '../../src/git/errors.js';

const sha = (c: string) => c.repeat(40);

/** Canned `git ls-remote --tags` output: annotated tags come with a peeled `^{}` line. */
const LS_REMOTE = [
  `${sha('1')}\trefs/tags/v1.0.0`,
  `${sha('2')}\trefs/tags/v1.9.0`,
  `${sha('a')}\trefs/tags/v1.10.0`, // annotated: the tag object
  `${sha('3')}\trefs/tags/v1.10.0^{}`, // ... and the commit it points at
  `${sha('4')}\trefs/tags/v2.0.0-rc.1`,
  `${sha('5')}\trefs/tags/nightly`,
  `${sha('6')}\trefs/tags/release-3.1.0`,
  `${sha('7')}\trefs/tags/0.9.0`,
].join('\n');
const refs = parseLsRemote(LS_REMOTE);

describe('tag tracking picks the newest matching version', () => {
  it.each([
    ['v* (glob; prereleases the glob matches count)', 'v*', 'v2.0.0-rc.1', sha('4')],
    ['>=1.0.0 <2 (range; v1.10.0 beats v1.9.0, annotated tag peeled to its commit)', '>=1.0.0 <2', 'v1.10.0', sha('3')],
    ['>=1 (a range never picks a prerelease it does not name)', '>=1', 'release-3.1.0', undefined],
    ['^1.0 (caret)', '^1.0', 'v1.10.0', sha('3')],
    ['~1.9.0 (tilde)', '~1.9.0', 'v1.9.0', sha('2')],
    ['1.x (x-range)', '1.x', 'v1.10.0', sha('3')],
    ['<1 || >=2.0.0-rc.0 <3 (alternatives; names a prerelease)', '<1 || >=2.0.0-rc.0 <3', 'v2.0.0-rc.1', sha('4')],
    ['release-* (glob with a prefix that is not v)', 'release-*', 'release-3.1.0', sha('6')],
    ['v1.0.* (glob)', 'v1.0.*', 'v1.0.0', sha('1')],
  ])('%s', (_name, pattern, tag, commit) => {
    const pick = newestTag(refs, pattern);
    expect(pick?.tag).toBe(tag);
    if (commit) expect(pick?.sha).toBe(commit);
  });

  it('ignores tags that are not versions (nightly) and reports no match as undefined', () => {
    expect(newestTag(refs, 'night*')).toBeUndefined();
    expect(newestTag(refs, '>=5')).toBeUndefined();
  });

  it('peels annotated tags: the commit, not the tag object, is what deploys', () => {
    expect(peeledTags(refs).get('v1.10.0')).toBe(sha('3'));
    expect(peeledTags(new Map([[`refs/tags/x^{}`, sha('c')], ['refs/tags/x', sha('b')]])).get('x')).toBe(sha('c'));
  });
});

describe('versions and ranges', () => {
  it.each([
    ['1.0.0-alpha', '1.0.0-alpha.1'],
    ['1.0.0-alpha.1', '1.0.0-alpha.beta'],
    ['1.0.0-beta.2', '1.0.0-beta.11'],
    ['1.0.0-rc.1', '1.0.0'],
    ['1.9.0', '1.10.0'],
    ['v1', 'v1.0.1'],
  ])('%s sorts before %s', (a, b) => {
    expect(compareVersions(parseVersion(a)!, parseVersion(b)!)).toBe(-1);
    expect(compareVersions(parseVersion(b)!, parseVersion(a)!)).toBe(1);
  });

  it.each([
    ['>=1.0.0 <2', '1.4.2', true],
    ['>=1.0.0 <2', '2.0.0', false],
    ['>=1.0.0 <2', '2.0.0-rc.1', false],
    ['^0.2.3', '0.2.9', true],
    ['^0.2.3', '0.3.0', false],
    ['>1.2', '1.2.9', false],
    ['>1.2', '1.3.0', true],
    ['<=1.2', '1.2.7', true],
    ['*', '4.0.0', true],
  ])('%s with %s → %s', (range, version, ok) => {
    expect(satisfies(parseVersion(version)!, parseRange(range)!)).toBe(ok);
  });

  it.each([['v*', undefined], ['>=1.0.0 <2', undefined], ['>=banana', 'is not a version range like ">=1.0.0 <2" or "^1.4"'], ['v 1', 'is not a glob of tag names like "v*"'], ['', 'is empty']])(
    'the pattern %j is %s',
    (pattern, problem) => {
      expect(tagPatternProblem(pattern)).toBe(problem);
    },
  );
});

describe('a tag is a version tag only when all of it reads as one', () => {
  // Each of these outranks v1.10.0 if any prefix before the first digit counted.
  const HOSTILE = [
    'v$(touch${IFS}/tmp/x)9.9.9',
    'v`id`9.9.9',
    'release;rm -rf ~;9.9.9',
    '$(id)9.9.9',
    'v9.9.9$(id)',
    '-v9.9.9',
    'v 9.9.9',
    'v\u001b]0;x\u00079.9.9',
  ];
  const withHostile = new Map([...refs, ...HOSTILE.map((t, i): [string, string] => [`refs/tags/${t}`, sha(String(i % 10))])]);

  it.each(['v*', '*', '>=1', '>=1.0.0 <10', '^9'])('%s never picks a tag with shell text around its version', (pattern) => {
    const pick = newestTag(withHostile, pattern);
    if (pick) expect(HOSTILE).not.toContain(pick.tag);
    expect(HOSTILE.map((t) => tagVersion(t))).toEqual(HOSTILE.map(() => undefined));
  });

  it.each([
    ['v1.2.3', '1.2.3'],
    ['1.2.3', '1.2.3'],
    ['release-3.1.0', '3.1.0'],
    ['app/1.2.3', '1.2.3'],
    ['web_v2.0.0-rc.1', '2.0.0'],
  ])('%s is version %s', (tag, version) => {
    const v = tagVersion(tag);
    expect(v && `${v.major}.${v.minor}.${v.patch}`).toBe(version);
  });
});

describe('tag names too long to deploy', () => {
  it('over 255 bytes in one part, or 1024 in all, counting UTF-8 bytes', () => {
    expect(tagTooLong(`v${'x'.repeat(248)}1.0.0`)).toBe(false);
    expect(tagTooLong(`v${'x'.repeat(250)}1.0.0`)).toBe(true);
    expect(tagTooLong(`v${'é'.repeat(130)}1.0.0`)).toBe(true);
    expect(tagTooLong(`${'app/'.repeat(200)}v1.0.0`)).toBe(false);
    expect(tagTooLong(`${'a'.repeat(200)}/`.repeat(6) + 'v1')).toBe(true);
  });

  it('newestTag passes over them; tooLongTags names those the pattern would have taken', () => {
    const long = `v${'x'.repeat(300)}9.9.9`;
    const listing = parseLsRemote(`${LS_REMOTE}\n${sha('9')}\trefs/tags/${long}\n${sha('8')}\trefs/tags/nightly${'x'.repeat(300)}`);
    expect(newestTag(listing, 'v*')?.tag).toBe('v2.0.0-rc.1');
    expect(tooLongTags(listing, 'v*')).toEqual([long]);
    expect(tooLongTags(listing, 'release-*')).toEqual([]);
  });
});
