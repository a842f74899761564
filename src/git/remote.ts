import type { Target } from '../config/normalise.js';
import { GitError } from '../errors.js';
import { parseLsRemote } from './errors.js';
import { gitOrThrow } from './git.js';
import { newestTag } from './tags.js';

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
  const pick = newestTag(tags, pattern);
  if (!pick) {
    throw new GitError(`no tag on ${target.repo} matches tags: "${pattern}"`, {
      target: target.name,
      hint: `push a version tag that matches (git ls-remote --tags ${target.repo}), or change tags:`,
    });
  }
  return { sha: pick.sha, tag: pick.tag };
}
