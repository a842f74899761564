/**
 * Which targets a push concerns. A webhook only says "this repository's ref moved";
 * the targets it maps to run their normal cycle, which asks the remote itself, so a
 * forged or stale commit id in a payload can never be deployed.
 */
import type { Target } from '../config/normalise.js';

/** `acme/todo` allowed by `acme/todo` or `acme/*` (case-insensitive, as forges treat names). */
export function repoAllowed(allow: readonly string[], repo: string): boolean {
  const name = repo.toLowerCase();
  return allow.some((entry) => {
    const e = entry.toLowerCase();
    return e.endsWith('/*') ? name.startsWith(e.slice(0, -1)) && !name.slice(e.length - 1).includes('/') : e === name;
  });
}

/** A target's repo URL names `owner/name` when it ends in it, with or without `.git`. */
export function repoUrlNames(url: string, repo: string): boolean {
  const path = url.toLowerCase().replace(/\/+$/, '').replace(/\.git$/, '');
  const name = repo.toLowerCase();
  return path === name || path.endsWith(`/${name}`) || path.endsWith(`:${name}`);
}

/** The targets of `repo` whose branch is `ref`, plus its tag targets for any tag push. */
export function targetsForPush(targets: readonly Target[], repo: string, ref: string): Target[] {
  return targets.filter((t) => {
    if (!repoUrlNames(t.repo, repo)) return false;
    // Any tag push (or deletion) may change which tag is newest: the cycle decides.
    if (t.tags !== undefined) return ref.startsWith('refs/tags/');
    return ref === `refs/heads/${t.branch}`;
  });
}
