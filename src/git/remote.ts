import type { Target } from '../config/normalise.js';
import { GitError } from '../errors.js';
import { parseLsRemote } from './errors.js';
import { gitOrThrow } from './git.js';

/** The remote head of the target's branch, by ls-remote: one round trip, no fetch. */
export async function resolveRemoteHead(target: Target, cwd: string): Promise<string> {
  const ref = `refs/heads/${target.branch}`;
  const result = await gitOrThrow(['ls-remote', '--', target.repo, ref], { cwd, target }, 'ls-remote');
  const sha = parseLsRemote(result.stdout).get(ref);
  if (!sha) {
    throw new GitError(`branch not found: ${target.branch} does not exist on ${target.repo}`, {
      target: target.name,
      hint: `push the branch, or set branch: to one that exists (git ls-remote --heads ${target.repo})`,
    });
  }
  return sha;
}
