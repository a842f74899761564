/**
 * Which targets a push concerns. A webhook only says "this repository's refs moved";
 * the targets it maps to run their normal cycle, which asks the remote itself, so a
 * forged or stale commit id in a payload can never be deployed.
 *
 * A repository is identified by host AND path, never by `owner/name` alone: a GitHub
 * push for `acme/todo` must not poll a target of `git@gitlab.com:acme/todo.git`. The
 * delivery's side comes from the URLs in its payload (web, https clone, ssh clone);
 * the target's side from its repo URL, with an ssh alias (`github.com-repo-todo`)
 * resolved to its `HostName` through the target's ssh config once at start.
 */
import type { Target } from '../config/normalise.js';
import { sshDestination } from '../git/ssh-url.js';

/** A host (lower case, no port; loopback spelled `localhost`) and a path (lower case, no `.git`, no outer slashes). */
export interface RepoLocation {
  host: string;
  path: string;
}

/** Where a target fetches from: every name its host goes by, and its path. */
export interface TargetLocation {
  hosts: string[];
  path: string;
  /** A local path or file:// URL: the repository sits on this machine (e.g. a Gitea's own repository dir). */
  local: boolean;
}

/** Other names of loopback (`localhost` itself stays as it is). */
const LOOPBACK = new Set(['127.0.0.1', '::1', '0:0:0:0:0:0:0:1']);

export function normaliseHost(host: string): string {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  return LOOPBACK.has(h) ? 'localhost' : h;
}

function normalisePath(path: string): string {
  // Runs of slashes are one first, so one slash is all there is to strip at either end.
  let p = path.toLowerCase().replace(/\/+/g, '/').replace(/^\/|\/$/g, '');
  if (p.endsWith('.git')) p = p.slice(0, -4);
  return p.replace(/\/$/, '');
}

/**
 * Host and path of a repository URL as git reads it: `scheme://[user@]host[:port]/path`,
 * scp-like `[user@]host:path`, or a local path / file:// URL (host `localhost`).
 * Undefined when it names no repository path.
 */
export function locateUrl(url: string): (RepoLocation & { local: boolean }) | undefined {
  const text = url.trim();
  if (/^file:\/\//i.test(text) || text.startsWith('/') || text.startsWith('.')) {
    let path = text;
    if (/^file:\/\//i.test(text)) {
      try {
        path = decodeURIComponent(new URL(text).pathname);
      } catch {
        return undefined;
      }
    }
    const p = normalisePath(path);
    return p ? { host: 'localhost', path: p, local: true } : undefined;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    try {
      const u = new URL(text);
      const path = normalisePath(decodeURIComponent(u.pathname));
      return u.hostname && path ? { host: normaliseHost(u.hostname), path, local: false } : undefined;
    } catch {
      return undefined;
    }
  }
  const dest = sshDestination(text);
  if (!dest) return undefined;
  // scp-like: the path follows the authority's colon (`git@[::1]:` has colons inside).
  const path = normalisePath(text.slice(dest.authority.length + 1));
  return path ? { host: normaliseHost(dest.host), path, local: false } : undefined;
}

/** A target's location; `resolvedHost` is the HostName ssh resolved its URL's host (an alias) to. */
export function targetLocation(repo: string, resolvedHost?: string): TargetLocation | undefined {
  const own = locateUrl(repo);
  if (!own) return undefined;
  const hosts = [own.host];
  if (resolvedHost) {
    const h = normaliseHost(resolvedHost);
    if (!hosts.includes(h)) hosts.push(h);
  }
  return { hosts, path: own.path, local: own.local };
}

/**
 * Same host, same path. A local target's path is an absolute directory that ends in
 * the forge's `owner/name` (Gitea keeps `<repos>/owner/name.git`), so it matches by suffix.
 */
export function sameRepository(target: TargetLocation, delivery: RepoLocation): boolean {
  if (!target.hosts.includes(delivery.host)) return false;
  return target.path === delivery.path || (target.local && target.path.endsWith(`/${delivery.path}`));
}

/**
 * A `serve.allow` entry: `host/owner/name` or `host/owner/*` (any depth of groups
 * before the name, as GitLab has). `*` stands for one path segment.
 */
export function allowEntryMatches(entry: string, at: RepoLocation): boolean {
  const e = entry.trim();
  const slash = e.indexOf('/');
  if (slash <= 0) return false;
  let path: string;
  if (allowEntryHasHost(e)) {
    if (normaliseHost(e.slice(0, slash)) !== at.host) return false;
    path = normalisePath(e.slice(slash + 1));
  } else {
    // Deprecated owner/name: the path only. The delivery must still match a target's
    // host and path before anything is queued (targetsOfRepository).
    path = normalisePath(e);
  }
  if (path.endsWith('/*')) {
    const prefix = path.slice(0, -1);
    return at.path.startsWith(prefix) && at.path.length > prefix.length && !at.path.slice(prefix.length).includes('/');
  }
  return path === at.path;
}

/**
 * `host/owner/name` (the first segment is a host: it has a dot, is localhost or an
 * [IPv6] address, and a path follows), not the deprecated `owner/name`.
 */
export function allowEntryHasHost(entry: string): boolean {
  const parts = entry.trim().split('/');
  const first = parts[0] ?? '';
  return parts.length >= 3 && (/^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$/.test(first) || first === 'localhost' || /^\[[0-9A-Fa-f:.]+\]$/.test(first));
}

/** Does an allow entry name this target's repository? (For a warning at start: an entry that names nothing is a typo.) */
export function allowNamesTarget(entry: string, location: TargetLocation): boolean {
  const parts = location.path.split('/');
  // A local target's path ends in the forge's owner/name: try each tail.
  const paths = location.local ? parts.map((_, i) => parts.slice(i).join('/')) : [location.path];
  return location.hosts.some((host) => paths.some((path) => allowEntryMatches(entry, { host, path })));
}

export function repoAllowed(allow: readonly string[], locations: readonly RepoLocation[]): boolean {
  return allow.some((entry) => locations.some((at) => allowEntryMatches(entry, at)));
}

export interface LocatedTarget {
  target: Target;
  location: TargetLocation | undefined;
}

export function targetsOfRepository(targets: readonly LocatedTarget[], locations: readonly RepoLocation[]): LocatedTarget[] {
  return targets.filter((t) => t.location !== undefined && locations.some((at) => sameRepository(t.location as TargetLocation, at)));
}

/** The targets of the pushed repository whose branch is among `refs`, plus its tag targets for any tag push. */
export function targetsForPush(targets: readonly LocatedTarget[], locations: readonly RepoLocation[], refs: readonly string[]): Target[] {
  return targetsOfRepository(targets, locations)
    .map((t) => t.target)
    .filter((t) => {
      // Any tag push (or deletion) may change which tag is newest: the cycle decides.
      if (t.tags !== undefined) return refs.some((ref) => ref.startsWith('refs/tags/'));
      return refs.includes(`refs/heads/${t.branch}`);
    });
}
