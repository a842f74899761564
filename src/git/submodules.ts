/**
 * What a commit holds besides plain files, checked after the fetch and before anything
 * goes live: Git LFS files (refused unless the target has `lfs: true`, or they would be
 * deployed as pointer files) and submodules (gitlinks, mode 160000: empty directories
 * with one warning, unless `submodules: recursive`).
 *
 * With `submodules: recursive`, each submodule's commit is fetched into a bare mirror of
 * its own in the state dir and exported into the deployed tree (in-place checkout or
 * release alike: a release has no .git, and neither needs `git submodule`). The fetches
 * run through the same door as the target's own (its key, its pinned known_hosts, no
 * agent), and every URL in every `.gitmodules` is checked first, at every level: no
 * `ext::` or other remote helper, no option-like `-…`, no local path or file:// unless
 * the target's own repo is local; git's `protocol.allow` is set to the same list so git
 * itself refuses anything else.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Target } from '../config/normalise.js';
import { ConfigError, GitError } from '../errors.js';
import { isWithin, realLocation } from '../real-location.js';
import { hasCommit } from './checkout.js';
import { cloneCall, isEmptyRepo } from './fetch.js';
import { git, gitOrThrow } from './git.js';
import { exportCommit } from './mirror.js';
import { isFullSha } from './ref-name.js';
import { knownTreeFacts, refuseForbiddenPaths, unquoteGitPath, withinPaths } from './tree-paths.js';
import { sshDestination } from './ssh-url.js';

export interface Gitlink {
  path: string;
  sha: string;
}

/** One line of `git ls-tree -r` → the gitlink (submodule commit) it names, if it is one. Pure. */
export function parseGitlinkLine(line: string): Gitlink | undefined {
  const m = /^160000 commit ([0-9a-f]{40,64})\t(.+)$/.exec(line);
  return m?.[1] && m[2] ? { sha: m[1], path: unquoteGitPath(m[2]) } : undefined;
}

export { withinPaths };

/** Every gitlink of `sha`, read as the listing streams by: a big tree's listing is never held whole. */
export async function gitlinksIn(target: Target, repoDir: string, sha: string): Promise<Gitlink[]> {
  // The forbidden-path check listed this tree whole already: its gitlinks are the same.
  const known = knownTreeFacts(repoDir, sha);
  if (known) return [...known.gitlinks];
  const links: Gitlink[] = [];
  const onLine = (line: string, stream: 'stdout' | 'stderr') => {
    const link = stream === 'stdout' && line.startsWith('160000 ') ? parseGitlinkLine(line) : undefined;
    if (link) links.push(link);
  };
  await gitOrThrow(['ls-tree', '-r', '--full-tree', sha], { cwd: repoDir, target, onLine, maxOutput: 4096 }, 'ls-tree');
  return links;
}

export async function gitlinksOf(target: Target, repoDir: string, sha: string): Promise<Gitlink[]> {
  return (await gitlinksIn(target, repoDir, sha)).filter((l) => withinPaths(l.path, target.paths));
}

/** Whether any `.gitattributes` of `sha` routes files through the lfs filter. */
export async function usesLfs(target: Target, repoDir: string, sha: string): Promise<boolean> {
  // A tree whose whole listing has no `.gitattributes` has nothing for the grep to find.
  if (knownTreeFacts(repoDir, sha)?.hasAttributes === false) return false;
  const result = await git(['grep', '-q', '-I', '-E', '-e', 'filter=lfs', sha, '--', ':(glob).gitattributes', ':(glob)**/.gitattributes'], { cwd: repoDir, target });
  return result.exitCode === 0;
}

/** Whether the target's own repo is on this machine (file:// or a path): only then may submodules be local. */
export function isLocalRepo(repo: string): boolean {
  if (/^file:\/\//i.test(repo)) return true;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[a-z][a-z0-9+.-]*::/i.test(repo)) return false;
  return sshDestination(repo) === undefined;
}

/** The transports a submodule may use: git's own safe list, and file only for a local target. */
export function allowedProtocols(targetIsLocal: boolean): string[] {
  return ['ssh', 'https', 'http', 'git', ...(targetIsLocal ? ['file'] : [])];
}

/** `-c` flags that make git itself refuse any other transport (also for nested calls: git passes -c on). */
export function protocolConfig(targetIsLocal: boolean): string[] {
  const allow = allowedProtocols(targetIsLocal);
  return ['-c', 'protocol.allow=never', ...['ssh', 'https', 'http', 'git', 'file', 'ext'].flatMap((p) => ['-c', `protocol.${p}.allow=${allow.includes(p) ? 'always' : 'never'}`])];
}

/** Why a submodule URL (already resolved) may not be fetched, or undefined when it may. Pure. */
export function submoduleUrlProblem(url: string, targetIsLocal: boolean): string | undefined {
  if (url === '') return 'is empty';
  if (url.startsWith('-')) return 'starts with "-" (git would read it as an option)';
  if (/^[a-z][a-z0-9+.-]*::/i.test(url)) return `uses a remote helper (${url.slice(0, url.indexOf('::') + 2)}), which can run commands: refused`;
  if (/[\s\x00-\x1f]/.test(url)) return 'contains spaces or control characters';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    const transport = ['git+ssh', 'ssh+git'].includes(scheme) ? 'ssh' : scheme;
    if (!allowedProtocols(targetIsLocal).includes(transport)) {
      return transport === 'file' ? 'is a file:// URL, allowed only when the target\'s own repo is local' : `uses ${scheme}://, which is not allowed (ssh, https, http, git)`;
    }
    return undefined;
  }
  if (sshDestination(url)) return undefined;
  return targetIsLocal ? undefined : 'is a local path, allowed only when the target\'s own repo is local';
}

/**
 * A relative submodule URL (`./x`, `../x`) resolved against its superproject's URL, the
 * way git does it: each `../` drops one path component of the base. Pure.
 */
export function resolveSubmoduleUrl(url: string, base: string): string | undefined {
  if (!url.startsWith('./') && !url.startsWith('../')) return url;
  const root = base.replace(/\/+$/, '');
  // The part no `../` may climb out of: `scheme://authority`, or scp-like `user@host:`.
  const authority = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(root)?.[0];
  const dest = authority === undefined ? sshDestination(root) : undefined;
  // After the authority's own colon: `git@[::1]:` has colons inside its brackets.
  const scp = dest ? root.slice(0, dest.authority.length + 1) : undefined;
  const fixed = authority ?? scp ?? '';
  let path = root.slice(fixed.length);
  let rest = url;
  for (;;) {
    if (rest.startsWith('./')) rest = rest.slice(2);
    else if (rest.startsWith('../')) {
      if (path === '') return undefined;
      const cut = path.lastIndexOf('/');
      path = cut < 0 ? '' : path.slice(0, cut);
      rest = rest.slice(3);
    } else break;
  }
  if (rest === '') return undefined;
  if (path !== '') return `${fixed}${path}/${rest}`;
  if (scp !== undefined) return `${fixed}${rest}`;
  return authority !== undefined ? `${fixed}/${rest}` : undefined;
}

interface ModuleEntry {
  path?: string;
  url?: string;
}

/** `git config -z --get-regexp` output of a .gitmodules → entries by submodule name. Pure. */
export function parseGitmodules(stdout: string): Map<string, ModuleEntry> {
  const modules = new Map<string, ModuleEntry>();
  for (const record of stdout.split('\0')) {
    const nl = record.indexOf('\n');
    if (nl < 0) continue;
    const key = record.slice(0, nl);
    const value = record.slice(nl + 1);
    const m = /^submodule\.(.+)\.(path|url)$/s.exec(key);
    if (!m?.[1] || !m[2]) continue;
    const entry = modules.get(m[1]) ?? {};
    entry[m[2] as 'path' | 'url'] = value;
    modules.set(m[1], entry);
  }
  return modules;
}

/** One submodule commit to put into the deployed tree. */
export interface SubmoduleCommit {
  /** Relative to the top of the deployed tree. */
  path: string;
  url: string;
  sha: string;
  mirror: string;
}

const MAX_DEPTH = 8;

export function submoduleMirror(workDir: string, url: string): string {
  // Named by the URL's hash: a name from .gitmodules never becomes a path of ours.
  return join(workDir, 'modules', `${createHash('sha256').update(url).digest('hex').slice(0, 32)}.git`);
}

/**
 * Checks the commit's content before anything goes live: refuses LFS without `lfs`,
 * warns once about submodules without `submodules: recursive`, and with it fetches
 * every submodule commit (recursively) into its mirror. Returns what to export.
 */
export async function inspectCommit(target: Target, repoDir: string, sha: string, workDir: string, warn: (line: string) => void): Promise<SubmoduleCommit[]> {
  if (!target.lfs && (await usesLfs(target, repoDir, sha))) {
    throw new ConfigError(`commit ${sha.slice(0, 12)} uses Git LFS (filter=lfs in .gitattributes): without lfs its files would be deployed as pointer files; not deploying it`, {
      target: target.name,
      hint: `set lfs: true on target ${target.name} (needs git-lfs installed); the deployed commit stays`,
    });
  }
  const links = await gitlinksOf(target, repoDir, sha);
  if (links.length === 0) return [];
  if (!target.submodules) {
    warn(`commit ${sha.slice(0, 12)} has submodules, deployed as empty directories: ${links.map((l) => l.path).join(', ')} (set submodules: recursive to deploy their content)`);
    return [];
  }
  const found: SubmoduleCommit[] = [];
  await collect(target, repoDir, sha, links, target.repo, '', workDir, found, 0);
  return found;
}

async function collect(target: Target, repoDir: string, sha: string, links: Gitlink[], baseUrl: string, prefix: string, workDir: string, found: SubmoduleCommit[], depth: number): Promise<void> {
  const local = isLocalRepo(target.repo);
  // --no-includes: `git config --blob` follows an `[include] path` (absolute) as for a file, so the
  // commit would name a host file for pollpray to read (a FIFO blocks until git_timeout, another
  // file's submodule url is taken as the commit's). git's own submodule code never follows them.
  const gm = await git(['config', '--no-includes', '--blob', `${sha}:.gitmodules`, '-z', '--get-regexp', '^submodule\\..*\\.(path|url)$'], { cwd: repoDir, target });
  const modules = [...parseGitmodules(gm.exitCode === 0 ? gm.stdout : '').values()];
  for (const link of links) {
    const shown = `${prefix}${link.path}`;
    const entry = modules.find((m) => m.path === link.path);
    if (!entry?.url) {
      throw new GitError(`submodule ${shown} has no url in .gitmodules of ${sha.slice(0, 12)}`, { target: target.name, hint: 'add it with git submodule add (or fix .gitmodules) and push' });
    }
    if (depth >= MAX_DEPTH) throw new GitError(`submodules nest deeper than ${MAX_DEPTH} levels at ${shown}`, { target: target.name, hint: 'flatten the submodules' });
    const url = resolveSubmoduleUrl(entry.url, baseUrl);
    const problem = url === undefined ? 'is a relative URL that leads above its superproject\'s host' : submoduleUrlProblem(url, local);
    if (url === undefined || problem) {
      throw new GitError(`submodule ${shown} url ${entry.url} ${problem}; not deploying ${sha.slice(0, 12)}`, {
        target: target.name,
        hint: 'use an ssh or https URL (or a relative one) for the submodule, and push',
      });
    }
    if (!isFullSha(link.sha)) throw new GitError(`submodule ${shown} does not name a full commit`, { target: target.name });
    const mirror = submoduleMirror(workDir, url);
    await fetchSubmoduleCommit(target, mirror, url, link.sha, shown, local);
    // A submodule's tree is pushed by someone too: the same paths are refused as in the target's own.
    await refuseForbiddenPaths(target, mirror, link.sha, []);
    if (await usesLfs(target, mirror, link.sha)) {
      throw new GitError(`submodule ${shown} uses Git LFS, whose objects pollpray does not fetch inside submodules: its files would be pointer files; not deploying ${sha.slice(0, 12)}`, {
        target: target.name,
        hint: 'keep LFS files in the target\'s own repository (lfs: true), or leave submodules: none',
      });
    }
    found.push({ path: shown, url, sha: link.sha, mirror });
    const inner = await gitlinksIn(target, mirror, link.sha);
    if (inner.length) await collect(target, mirror, link.sha, inner, url, `${shown}/`, workDir, found, depth + 1);
  }
}

async function fetchSubmoduleCommit(target: Target, mirror: string, url: string, sha: string, shown: string, local: boolean): Promise<void> {
  if (existsSync(join(mirror, 'HEAD')) && (await hasCommit(target, sha, mirror))) return;
  mkdirSync(dirname(mirror), { recursive: true });
  if (!existsSync(join(mirror, 'HEAD'))) {
    rmSync(mirror, { recursive: true, force: true });
    await gitOrThrow(['init', '--quiet', '--bare', '--', mirror], { cwd: dirname(mirror), target }, 'init submodule mirror');
  }
  const first = await isEmptyRepo(target, mirror);
  const call = cloneCall(target, mirror, first);
  const fetch = (refspecs: string[]) => git([...protocolConfig(local), 'fetch', '--no-tags', '--', url, ...refspecs], call);
  // The exact commit first (protocol v2 servers and forges serve it); else its branches and tags.
  let result = await fetch([sha]);
  if (result.exitCode !== 0 && !result.timedOut) result = await fetch(['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*']);
  if (result.timedOut) {
    throw new GitError(`fetching submodule ${shown} did not finish within ${call.timeoutKey ?? 'git_timeout'} and was killed`, { target: target.name, hint: `raise ${call.timeoutKey ?? 'git_timeout'}` });
  }
  if (!(await hasCommit(target, sha, mirror))) {
    const last = result.stderr.trim().split('\n').filter(Boolean).pop() ?? 'the commit is not there';
    throw new GitError(`submodule ${shown}: commit ${sha.slice(0, 12)} could not be fetched from ${url}: ${last}`, {
      target: target.name,
      hint: 'push the submodule commit, and check that the target\'s deploy key (and pinned known_hosts) reach the submodule\'s repository (pollpray test-ssh)',
    });
  }
  // Keep the fetched commit: a later `gc` would otherwise be free to drop it.
  await gitOrThrow(['update-ref', `refs/pollpray/${sha}`, sha], { cwd: mirror, target }, 'update-ref');
}

/**
 * Writes each submodule's commit into `dir` (the checkout or the release), parents
 * before their children. A directory on the way that leads out of `dir` (a committed
 * symlink) is refused; a submodule directory's old content is replaced.
 */
export async function exportSubmodules(target: Target, subs: readonly SubmoduleCommit[], dir: string, scratch: string): Promise<void> {
  const top = realLocation(dir);
  for (const sub of subs) {
    const into = join(dir, sub.path);
    if (!isWithin(realLocation(dirname(into)), top)) {
      throw new GitError(`submodule ${sub.path} leads out of ${dir} through a symlink in the commit`, { target: target.name, hint: 'replace the symlink on the way to the submodule by a real directory, and push' });
    }
    rmSync(into, { recursive: true, force: true });
    mkdirSync(into, { recursive: true });
    await exportCommit(target, sub.mirror, sub.sha, into, scratch, []);
  }
}

/**
 * In-place: the directories of `old`'s submodules that `sha` no longer has at all. git
 * would leave them (they hold pollpray's export, untracked to git); they are removed.
 */
export async function removeGoneSubmodules(target: Target, old: string, sha: string): Promise<void> {
  const top = realLocation(target.path);
  for (const link of await gitlinksOf(target, target.path, old)) {
    const listed = await git(['ls-tree', '--name-only', sha, '--', `:(literal)${link.path}`], { cwd: target.path, target });
    if (listed.exitCode !== 0 || listed.stdout.trim() !== '') continue;
    const dir = join(target.path, link.path);
    if (existsSync(dir) && isWithin(realLocation(dirname(dir)), top)) rmSync(dir, { recursive: true, force: true });
  }
}

/** Names of what exportSubmodules wrote, for the log. */
export function describeSubmodules(subs: readonly SubmoduleCommit[]): string {
  return subs.map((s) => `${s.path}@${s.sha.slice(0, 12)}`).join(', ');
}
