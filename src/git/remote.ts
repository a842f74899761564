import type { Target } from '../config/normalise.js';
import { GitError } from '../errors.js';
import { parseLsRemote } from './errors.js';
import { gitOrThrow } from './git.js';
import { log } from '../log/logger.js';
import { MAX_TAG_BYTES, MAX_TAG_PART_BYTES, newestTag, tooLongTags } from './tags.js';

/** What the target wants deployed: the commit, and the tag it came from when tracking tags. */
export interface WantedCommit {
  sha: string;
  tag?: string;
}

/**
 * The commit the target wants, by ls-remote: one round trip, no fetch. A branch
 * target asks for its branch; a tag target lists the tags and takes the newest match.
 */
export async function resolveWanted(target: Target, cwd: string): Promise<WantedCommit> {
  if (target.tags !== undefined) return resolveNewestTag(target, target.tags, cwd);
  const ref = `refs/heads/${target.branch}`;
  const result = await gitOrThrow(['ls-remote', '--', target.repo, ref], { cwd, target }, 'ls-remote');
  const sha = parseLsRemote(result.stdout).get(ref);
  if (!sha) {
    throw new GitError(`branch not found: ${target.branch} does not exist on ${target.repo}`, {
      target: target.name,
      hint: `push the branch, or set branch: to one that exists (git ls-remote --heads ${target.repo})`,
    });
  }
  return { sha };
}

async function resolveNewestTag(target: Target, pattern: string, cwd: string): Promise<WantedCommit> {
  // Every line as it arrives: run() keeps only an output's last 256 KiB, and a listing of
  // thousands of tags is longer, sorted by name, so a newest version that sorts first
  // (v10.0.0 before v2.0.0) would be cut off and an older one deployed.
  const tags = new Map<string, string>();
  const onLine = (line: string, stream: 'stdout' | 'stderr') => {
    if (stream === 'stdout') for (const [ref, sha] of parseLsRemote(line)) tags.set(ref, sha);
  };
  await gitOrThrow(['ls-remote', '--tags', '--', target.repo], { cwd, target, onLine, maxOutput: 4096 }, 'ls-remote');
  // A name too long to fetch or hand a script is passed over, never the target blocked by it:
  // whoever can push a tag could otherwise stop every good one from deploying.
  const tooLong = tooLongTags(tags, pattern);
  if (tooLong.length) {
    const named = tooLong.slice(0, 3).map((tag) => `${cutTag(tag)} (${Buffer.byteLength(tag)} bytes)`).join(', ');
    const more = tooLong.length > 3 ? ` and ${tooLong.length - 3} more` : '';
    log.warn(
      `ignored tag${tooLong.length === 1 ? '' : 's'} ${named}${more}: a tag name over ${MAX_TAG_PART_BYTES} bytes in one part (or ${MAX_TAG_BYTES} in all) cannot be fetched into a ref; not deploying ${tooLong.length === 1 ? 'it' : 'them'}`,
      { target: target.name, step: 'ls-remote' },
    );
  }
  const pick = newestTag(tags, pattern);
  if (!pick) {
    throw new GitError(`no tag on ${target.repo} matches tags: "${pattern}"`, {
      target: target.name,
      hint: `push a version tag that matches (git ls-remote --tags ${target.repo}), or change tags:`,
    });
  }
  return { sha: pick.sha, tag: pick.tag };
}

/** A tag name for a log line: its first 40 and last 8 characters around `…`. */
function cutTag(tag: string): string {
  return tag.length <= 60 ? tag : `${tag.slice(0, 40)}…${tag.slice(-8)}`;
}
