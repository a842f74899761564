/**
 * The one fetch both strategies use: exactly the ref the target tracks (its branch, or
 * the one tag it deploys) from remote `origin`, never every branch and tag of the
 * repository. The first fetch into an empty repository is the clone: it gets
 * clone_timeout, the target's partial-clone filter and depth, and shows git's progress
 * on a terminal. `origin` is set to the target's repo before each fetch, so a changed
 * repo URL is followed and a partial clone's lazy fetches (of the blobs a checkout or
 * archive needs) go to the same place, through the same ssh command.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Target } from '../config/normalise.js';
import { CommitContentError, GitError, SshError } from '../errors.js';
import { classifyTransport, explain, trustHostArg } from './errors.js';
import { git, gitOrThrow, progressArgs, type GitCall } from './git.js';
import { knownHostsName, sshDestination, sshUrlPath } from './ssh-url.js';

/** True when `dir` holds no ref yet: nothing was fetched into it (or its first fetch was cut short). */
export async function isEmptyRepo(target: Target, dir: string): Promise<boolean> {
  const result = await git(['for-each-ref', '--count=1', '--format=%(objectname)'], { cwd: dir, target });
  return result.exitCode === 0 && result.stdout.trim() === '';
}

/** The call options for a step that may download a whole repository (first fetch, first read of a partial clone). */
export function cloneCall(target: Target, cwd: string, first: boolean): GitCall {
  return first ? { cwd, target, timeoutMs: target.cloneTimeoutMs, timeoutKey: 'clone_timeout', progress: true } : { cwd, target, progress: true };
}

/** Fetches `refspec` (one exact ref) into `dir`; returns whether this was the first fetch (the clone). */
export async function fetchTracked(target: Target, dir: string, refspec: string): Promise<boolean> {
  await gitOrThrow(['config', '--replace-all', 'remote.origin.url', target.repo], { cwd: dir, target }, 'config');
  const first = await isEmptyRepo(target, dir);
  const args = [
    'fetch',
    '--no-tags',
    // Submodules are pollpray's to fetch (submodules.ts), with their URLs checked first.
    '--recurse-submodules=no',
    // Every fetch of a partial clone asks for the same filter: also after a repair started it anew.
    ...(target.clone.filter ? [`--filter=${target.clone.filter}`] : []),
    // Only the first: later fetches into a shallow clone stop at its boundary by themselves,
    // and keep the deployed commit reachable for the force-push check.
    ...(first && target.clone.depth ? [`--depth=${target.clone.depth}`] : []),
    ...progressArgs(),
    '--',
    'origin',
    refspec,
  ];
  await gitOrThrow(args, cloneCall(target, dir, first), first ? 'clone' : 'fetch');
  return first;
}

/**
 * The LFS server git-lfs finds for `repo` when nothing else is configured: for http(s) and
 * git:// the clone URL plus `.git/info/lfs` (git-lfs's own rule, lfsapi/endpoint_finder.go),
 * a local path or file:// as it is. For ssh git-lfs talks to the repo's own host and path
 * (git-lfs-transfer, or git-lfs-authenticate, whose answer names the API URL), which `lfs.url`
 * can say only as the clone URL itself. One difference remains there, and no `lfs.url` can
 * remove it: git-lfs appends `/info/lfs` only to a URL it derives from a remote's URL
 * (NewEndpointFromCloneURL), never to `lfs.url` (NewEndpoint), while the ssh host and path it
 * sends to git-lfs-authenticate come from the same URL. So the https URL git-lfs falls back
 * to when git-lfs-authenticate answers without an `href` is `https://<host>/<path>` here, not
 * `…/info/lfs`; the forges' git-lfs-authenticate always names the href. Leaving `lfs.url`
 * unset for ssh would let a committed `.lfsconfig` choose the server (`remote.lfsdefault`
 * plus `remote.<name>.lfsurl` are among the keys git-lfs takes from it).
 */
export function lfsEndpoint(repo: string): string {
  if (sshDestination(repo) || /^file:\/\//i.test(repo) || !/^[a-z][a-z0-9+.-]*:\/\//i.test(repo)) return repo;
  const url = repo.replace(/\/$/, '').replace(/^git:\/\//i, 'https://');
  return url.endsWith('.git') ? `${url}/info/lfs` : `${url}.git/info/lfs`;
}

/**
 * The LFS server pollpray pins for `target`: the operator's `lfs: { url }` (without the
 * credentials written into it, which git-lfs gets through git's environment), else the
 * one git-lfs derives from the target's repo.
 */
export function lfsServer(target: Target): string {
  return target.lfsUrl ?? lfsEndpoint(target.repo);
}

/**
 * The configuration every git call that runs git-lfs gets (fetch, checkout, archive); none
 * without lfs. git runs git-lfs as a filter for LFS files. A commit's `.lfsconfig` (read from
 * the working tree, the index or HEAD) may set a few keys, and git's own config, `-c`
 * included, outranks it (git-lfs-config(5), "LFSCONFIG"): so each key git-lfs accepts from it
 * that decides where git-lfs connects, how, or whether it downloads at all is pinned here to
 * what the target's config gives (`lfs: { url }`, else its repo URL). Whoever pushes cannot send pollpray's LFS downloads
 * to another server (an internal service, their own), lower https to http, or have files
 * deployed as pointers.
 */
export async function lfsConfig(target: Target, dir: string, sha: string): Promise<string[]> {
  if (!target.lfs) return [];
  const endpoint = lfsServer(target);
  const spellings = await lfsconfigAccessKeys(target, dir, sha);
  return [
    '-c', 'filter.lfs.smudge=git-lfs smudge -- %f',
    '-c', 'filter.lfs.clean=git-lfs clean -- %f',
    '-c', 'filter.lfs.process=git-lfs filter-process',
    // A file git-lfs cannot produce fails the checkout instead of leaving its pointer.
    '-c', 'filter.lfs.required=true',
    // lfs.url outranks every remote.<name>.lfsurl and the URL derived from the remote.
    '-c', `lfs.url=${endpoint}`,
    '-c', `lfs.pushurl=${endpoint}`,
    '-c', 'lfs.gitprotocol=https',
    // Both would leave pointer files where content belongs, without an error.
    '-c', 'lfs.skipdownloaderrors=false',
    '-c', 'lfs.fetchinclude=',
    '-c', 'lfs.fetchexclude=',
    // How git-lfs authenticates to the server (none: the header pollpray gives git, if any).
    ...(/^https?:\/\//i.test(endpoint) ? ['-c', `lfs.${endpoint}.access=none`] : []),
    // The same key as a .lfsconfig spells it: the server's URL with a trailing `/`, `//`,
    // `%6c`, `:443` or a query ties with the key above under git-lfs's URL matching, and
    // git-lfs picks one of tied keys at random. Each is set to none too; git's config comes
    // after .lfsconfig for git-lfs, so for the same key ours is the value it reads.
    ...spellings.flatMap((key) => ['-c', `${key}=none`]),
  ];
}

/** More than this many access keys in the .lfsconfig files read for one call: refused rather than passed on git's command line. */
const MAX_ACCESS_KEYS = 64;

/**
 * Every `lfs.<url>.access` key in each `.lfsconfig` git-lfs may read during a git call in
 * `dir` that moves to `sha`: git-lfs reads the working tree's file, else the index's, else
 * HEAD's (a bare mirror: HEAD's), through `git config --includes -l`, which it splits into
 * lines at every newline (a value holding one reads as a further key) and each line at its
 * first `=`. Read here the same way, from each of them and from `sha`'s, whichever git-lfs
 * ends up with while the checkout moves from one commit to the other.
 *
 * A working tree's `.lfsconfig` that git cannot read (a syntax error, a directory, a link
 * to one, an include it cannot open) makes git-lfs drop all of git's config with it, every
 * key pinned here included, and fall back to the remote's name as a path: `origin` in the
 * working tree, which the commit may make a link to any LFS store on this host. So `sha`'s
 * `.lfsconfig` must be a file git reads, or the commit is refused; a working tree's that
 * fails (written by hand, or by a pollpray before this check) fails the call.
 */
async function lfsconfigAccessKeys(target: Target, dir: string, sha: string): Promise<string[]> {
  const keys = new Set<string>();
  let includes = false;
  const read = async (source: string[], follow = true) => {
    const result = await git(['config', follow ? '--includes' : '--no-includes', '--list', ...source], { cwd: dir, target });
    if (result.exitCode === 0) {
      for (const line of result.stdout.split('\n')) {
        const eq = line.indexOf('=');
        const key = line.slice(0, eq);
        if (/^include(if\..*)?\.path$/i.test(key)) includes = true;
        // git-lfs's own test (config/git_fetcher.go, config/url_config.go): lfs.<url>.access, the url without whitespace.
        if (eq > 0 && /^lfs\.\S+\.access$/.test(key)) keys.add(key);
      }
    }
    return result;
  };
  const cause = (stderr: string) => stderr.trim().split('\n').filter(Boolean).pop() ?? 'git config failed';

  const entry = await git(['ls-tree', '--full-tree', sha, '--', '.lfsconfig'], { cwd: dir, target });
  const [mode, , blob] = entry.stdout.split('\t')[0]?.split(' ') ?? [];
  if (entry.exitCode === 0 && mode && blob) {
    // The commit's own doing (its content), unless the blob could not be had (a partial clone's lazy fetch failing).
    const bad = (why: string, content = true) =>
      new (content ? CommitContentError : GitError)(`commit ${sha.slice(0, 12)}'s .lfsconfig cannot be read by git config (${why}): git-lfs would drop pollpray's LFS settings with it; not deploying it`, {
        target: target.name,
        hint: 'make .lfsconfig a plain file git config -f .lfsconfig --list reads, or remove it (pollpray does not follow it)',
      });
    if (mode !== '100644' && mode !== '100755') throw bad(mode === '120000' ? 'it is a symbolic link' : 'it is not a file');
    // Not followed: an include names a file of this host (a FIFO another user made blocks the
    // read, and git-lfs's after it, until git_timeout), never anything a deploy needs.
    const result = await read(['--blob', blob], false);
    if (result.exitCode !== 0) throw bad(cause(result.stderr), /bad config|config includes|include/i.test(result.stderr));
    if (includes) {
      throw new CommitContentError(`commit ${sha.slice(0, 12)}'s .lfsconfig includes other config files (include.path): git-lfs would read files of this host the commit names; not deploying it`, {
        target: target.name,
        hint: 'remove the [include] and [includeIf] sections from .lfsconfig',
      });
    }
  }
  const worktreeFile = join(dir, '.lfsconfig');
  if (existsSync(join(dir, '.git')) && existsSync(worktreeFile)) {
    const result = await read(['-f', worktreeFile]);
    if (result.exitCode !== 0) {
      throw new GitError(`${worktreeFile} cannot be read by git config (${cause(result.stderr)}): git-lfs would drop pollpray's LFS settings with it`, {
        target: target.name,
        hint: `remove ${worktreeFile} (the checkout writes the deployed commit's own again) and run pollpray again`,
      });
    }
  }
  // git-lfs ignores an index or HEAD .lfsconfig it cannot read, and so does this.
  if (existsSync(join(dir, '.git'))) await read(['--blob', ':.lfsconfig']);
  await read(['--blob', 'HEAD:.lfsconfig']);
  if (keys.size > MAX_ACCESS_KEYS) {
    throw new CommitContentError(`commit ${sha.slice(0, 12)}'s .lfsconfig sets ${keys.size} lfs.<url>.access keys (at most ${MAX_ACCESS_KEYS} are overridden); not deploying it`, {
      target: target.name,
      hint: 'remove the lfs.<url>.access keys from .lfsconfig (pollpray sets how git-lfs authenticates itself)',
    });
  }
  return [...keys];
}

/**
 * An ssh LFS server whose host key is not pinned (or changed) fails git-lfs with ssh's
 * words somewhere in its output and a generic last line; named as the repo host's would
 * be, with the trust-host that fixes it: the host's fault, not the commit's.
 */
function lfsHostKeyFault(target: Target, stderr: string): SshError | undefined {
  const server = sshDestination(lfsServer(target));
  const transport = server ? classifyTransport(stderr) : undefined;
  if (!server || !transport || (transport.kind !== 'host-key-unknown' && transport.kind !== 'host-key-changed')) return undefined;
  const where = trustHostArg(knownHostsName(server.host, server.port ?? target.ssh.port ?? 22));
  const { message, hint } = explain({ ...transport, host: transport.host ?? where }, lfsServer(target));
  return new SshError(`Git LFS server ${where}: ${message}`, { target: target.name, hint, fault: 'host' });
}

/**
 * The LFS server refused what git-lfs authenticated with (HTTP 401 or 403, git-lfs's
 * "Authentication required", "Authorization error"), or wanted credentials it has none of
 * (git-lfs's "Git credentials for … not found"): a host fault, never the commit's, named
 * with the server and what grants access there. Over ssh that is the forge's
 * git-lfs-authenticate, whose answer (the API URL and a short-lived token, never shown)
 * git-lfs sends to the LFS API, or which refuses itself (no Git LFS for the repository or
 * this key: git-lfs's "batch request: <its words>: exit status <n>"; 255 is ssh's own).
 * git-lfs's closing "failed to fetch some objects from 'https://<host>/<path>'" names a URL
 * it never contacted.
 */
function lfsAuthFault(target: Target, stderr: string, sha: string): GitError | undefined {
  const server = lfsServer(target);
  const ssh = sshDestination(server);
  const where = ssh ? trustHostArg(knownHostsName(ssh.host, ssh.port ?? target.ssh.port ?? 22)) : '';
  const path = sshUrlPath(server) ?? server;
  const authenticate = ssh ? /batch request: ([\s\S]*?): exit status (\d+)\s*$/m.exec(stderr) : null;
  if (authenticate && authenticate[2] !== '255') {
    const words = (authenticate[1] ?? '').replace(/\s+/g, ' ').trim().slice(0, 300);
    return new GitError(`git-lfs-authenticate on ${where} refused ${path} download (exit ${authenticate[2]}${words ? `: ${words}` : ''}), so the LFS objects of ${sha.slice(0, 12)} cannot be fetched`, {
      target: target.name,
      hint: `the Git LFS server of ${where} must serve ${path} to this deploy key: enable Git LFS for the repository there and let the key read it; pollpray test-ssh asks git-lfs-authenticate as git-lfs does`,
      fault: 'host',
    });
  }
  const said = stderr.split('\n').map((l) => l.trim()).find((l) => /Authentication required|Authorization error|Git credentials for \S+ not found/.test(l));
  if (!said) return undefined;
  const line = said.slice(0, 300);
  if (ssh) {
    return new GitError(`the Git LFS server refused the credentials git-lfs-authenticate on ${where} gave for ${path} (the LFS objects of ${sha.slice(0, 12)}): ${line}`, {
      target: target.name,
      hint: `check that the deploy key may read ${path}'s Git LFS objects on ${where} (Git LFS must be enabled for the repository there) and that this host's clock is right (the credentials expire); pollpray test-ssh asks git-lfs-authenticate as git-lfs does`,
      fault: 'host',
    });
  }
  if (!/^https?:\/\//i.test(server)) return undefined;
  return new GitError(`Git LFS server ${server} refused access to the LFS objects of ${sha.slice(0, 12)}: ${line}`, {
    target: target.name,
    hint: target.lfsUrl
      ? `check the credentials in lfs.url (${target.lfsUrl}): they must be written into it (https://user:TOKEN@…) and may read the repository's LFS objects there`
      : `check the credentials in repo (${target.repo}): git-lfs sends the same ones to ${server}, and they must be allowed to read the repository's LFS objects`,
    fault: 'host',
  });
}

/** Downloads the LFS objects `sha` needs into `dir`'s LFS store (before anything goes live). */
export async function fetchLfsObjects(target: Target, dir: string, sha: string, first: boolean): Promise<void> {
  const include = target.paths.length ? [`--include=${target.paths.flatMap((p) => [p.replace(/\/+$/, ''), `${p.replace(/\/+$/, '')}/**`]).join(',')}`] : [];
  const result = await git([...(await lfsConfig(target, dir, sha)), 'lfs', 'fetch', ...include, 'origin', sha], cloneCall(target, dir, first));
  if (result.exitCode === 0 && !result.timedOut) return;
  if (/'lfs' is not a git command/.test(result.stderr) || result.spawnError) {
    throw new GitError('lfs: true, but git-lfs is not installed', { target: target.name, hint: 'install it (apt-get install git-lfs) and run pollpray again' });
  }
  const hostKey = lfsHostKeyFault(target, result.stderr);
  if (hostKey) throw hostKey;
  const auth = result.timedOut ? undefined : lfsAuthFault(target, result.stderr, sha);
  if (auth) throw auth;
  // git-lfs's closing summary names the server it derived, for ssh one it never contacted: the line before says what failed.
  const said = result.stderr.trim().split('\n').filter(Boolean);
  const cause = said.length > 1 && /^error: failed to fetch some objects from /.test(said[said.length - 1] ?? '') ? said[said.length - 2] : said[said.length - 1];
  const last = result.timedOut ? 'timed out' : (cause?.trim().slice(0, 300) ?? `exit ${result.exitCode}`);
  throw new GitError(`fetching the Git LFS objects of ${sha.slice(0, 12)} failed: ${last}`, {
    target: target.name,
    hint: target.lfsUrl
      ? `check that the LFS server in lfs.url (${target.lfsUrl}) has the objects and that its credentials may read them; git lfs fetch shows more`
      : 'check that the LFS server (the forge) has the objects and that the deploy key may read them; a repository that keeps its LFS objects on another server needs lfs: { url: <that server> } (a committed .lfsconfig is not followed); git lfs fetch shows more',
  });
}
