/**
 * Tag tracking: which tag a `tags:` pattern deploys. A pattern is a glob (`v*`,
 * `release-*`) or an npm-style version range (`>=1.0.0 <2`, `^1.4`); either way the
 * newest matching *version* wins, so `v10.0.0` beats `v9.9.9` where a string sort
 * would not. A version tag is a prefix of letters (`v`, `release-`, `app/`) and a
 * version, nothing else; tags that do not read that way never deploy. Tag names come
 * from whoever can push: `v$(touch${IFS}/tmp/x)9.9.9` must not count as 9.9.9, so the
 * whole name is matched, anchored, and every tag that deploys is made only of
 * `A-Z a-z 0-9 . _ / + -`. Pure: tested on canned `git ls-remote --tags` output.
 */
import { compareVersions, parseRange, parseVersion, satisfies, type Version } from './version.js';

export interface TagPick {
  tag: string;
  /** The commit the tag points at (annotated tags peeled). */
  sha: string;
  version: Version;
}

/** A pattern starting like a comparison or a number (or with `||`) is a range; otherwise a glob. */
export function isRangePattern(pattern: string): boolean {
  return /^\s*(?:[<>=~^]|\d)/.test(pattern) || pattern.includes('||');
}

/** Why a `tags:` pattern is unusable, or undefined when it is fine. */
export function tagPatternProblem(pattern: string): string | undefined {
  if (pattern.trim() === '') return 'is empty';
  if (isRangePattern(pattern)) return parseRange(pattern) ? undefined : 'is not a version range like ">=1.0.0 <2" or "^1.4"';
  if (/[\s\x00-\x1f\\:^~]|\.\.|@\{/.test(pattern) || pattern.startsWith('-')) return 'is not a glob of tag names like "v*"';
  return undefined;
}

/** A letter, then letters and `_ . / -`, then the version (parseVersion anchors its end). */
const VERSION_TAG = /^(?:[A-Za-z][A-Za-z_./-]*)?(\d[0-9A-Za-z.+-]*)$/;

/** The version a tag names: `v1.2.3`, `release-1.2.3` and `app/1.2.3` all name 1.2.3. */
export function tagVersion(tag: string): Version | undefined {
  const m = VERSION_TAG.exec(tag);
  return m?.[1] === undefined ? undefined : parseVersion(m[1]);
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

export function tagMatcher(pattern: string): (tag: string, version: Version) => boolean {
  if (isRangePattern(pattern)) {
    const range = parseRange(pattern);
    return (_tag, version) => !!range && satisfies(version, range);
  }
  const re = globToRegExp(pattern);
  return (tag) => re.test(tag);
}

/**
 * Tags from `ls-remote --tags` refs (`refs/tags/v1` and, for annotated tags,
 * `refs/tags/v1^{}` with the commit): the tag name → the commit it points at.
 */
export function peeledTags(refs: ReadonlyMap<string, string>): Map<string, string> {
  const tags = new Map<string, string>();
  for (const [ref, sha] of refs) {
    if (!ref.startsWith('refs/tags/')) continue;
    const peeled = ref.endsWith('^{}');
    const name = ref.slice('refs/tags/'.length, peeled ? -3 : undefined);
    if (peeled || !tags.has(name)) tags.set(name, sha);
  }
  return tags;
}

/**
 * The longest tag name that deploys: 255 bytes (UTF-8) in each `/`-separated part, 1024 in
 * all. A tag is fetched into a loose ref, a file named by each part, and no filesystem here
 * takes a file name over 255 bytes (ext4, xfs, btrfs, tmpfs): a longer one fails every
 * fetch. A packed-refs file on the server has no such limit, and a tag of tens of KiB would
 * otherwise go into the fetch's refspec (twice), POLLPRAY_TAG, state and every log line.
 */
export const MAX_TAG_PART_BYTES = 255;
export const MAX_TAG_BYTES = 1024;

/** True when `tag` is longer than a deployable tag may be (MAX_TAG_PART_BYTES, MAX_TAG_BYTES). */
export function tagTooLong(tag: string): boolean {
  // A UTF-16 unit is at most 3 UTF-8 bytes: most names are decided without counting.
  if (tag.length * 3 <= MAX_TAG_PART_BYTES) return false;
  return Buffer.byteLength(tag) > MAX_TAG_BYTES || tag.split('/').some((part) => Buffer.byteLength(part) > MAX_TAG_PART_BYTES);
}

/**
 * The tags `pattern` would consider (version tags it matches) whose names are too long to
 * deploy (tagTooLong): newestTag passes over them, and the caller says so.
 */
export function tooLongTags(refs: ReadonlyMap<string, string>, pattern: string): string[] {
  const matches = tagMatcher(pattern);
  return [...peeledTags(refs).keys()].filter((tag) => {
    if (!tagTooLong(tag)) return false;
    const version = tagVersion(tag);
    return version !== undefined && matches(tag, version);
  });
}

/** The newest tag matching `pattern`, or undefined when none does. Tags too long to deploy (tagTooLong) never count. */
export function newestTag(refs: ReadonlyMap<string, string>, pattern: string): TagPick | undefined {
  const matches = tagMatcher(pattern);
  let best: TagPick | undefined;
  for (const [tag, sha] of peeledTags(refs)) {
    if (tagTooLong(tag)) continue;
    const version = tagVersion(tag);
    if (!version || !matches(tag, version)) continue;
    // Equal versions (v1.0.0 and 1.0.0): the name decides, so the pick is stable.
    const cmp = best ? compareVersions(version, best.version) : 1;
    if (cmp > 0 || (cmp === 0 && best && tag > best.tag)) best = { tag, sha, version };
  }
  return best;
}
