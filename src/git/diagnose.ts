/**
 * What `pollpray test-ssh` (and `doctor`) check for one target, as data: one Check per
 * step, each with what was found and, when it is not ok, the fix. Order: the key file,
 * the pinned host key, then a real `git ls-remote` through the same ssh command a run
 * uses, classified into connection / authentication / repository / branch, and last an
 * ssh LFS server on another host (`lfs: { url }`): its key and host key, then a real
 * connection to it as git-lfs makes one (for an LFS server on the repo's own host, only
 * whether its git-lfs-authenticate answers). A network step is not tried while the key or
 * host key it needs is unusable: its error would only repeat (or hide) the real cause.
 */
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Config, Target } from '../config/normalise.js';
import { run } from '../exec/run.js';
import { classifyTransport, explain, parseLsRemote, trustHostArg } from './errors.js';
import { lfsServer } from './fetch.js';
import { git } from './git.js';
import { checkKeyUsable, deployKeyFiles, noDeployKey } from './key-check.js';
import { hostKeyName, lfsSshHost, resolveSsh } from './ssh-resolve.js';
import { shellQuote, sshArgv } from './ssh.js';
import { runningUser, trustProblem } from '../config/file-trust.js';
import { fingerprint, parseKnownHosts, type ResolvedSsh } from './host-keys.js';
import { knownHostsName, sshDestination, sshUrlPath } from './ssh-url.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

const ok = (name: string, detail: string): Check => ({ name, status: 'ok', detail });
const fail = (name: string, detail: string, fix: string): Check => ({ name, status: 'fail', detail, fix });

/** The key file checks, in the order ssh would trip over them. Never reads the key out. */
export async function checkKeyFile(path: string, cwd: string): Promise<Check> {
  return { name: 'key', ...(await checkKeyUsable(path, cwd)) };
}

async function checkKnownHosts(target: Target, resolved: ResolvedSsh, cwd: string): Promise<Check> {
  const file = target.ssh.knownHosts;
  const name = resolved.hostKeyAlias ?? knownHostsName(resolved.hostname, resolved.port);
  const trust = `pollpray trust-host ${resolved.port === 22 ? resolved.hostname : `${resolved.hostname}:${resolved.port}`}`;
  try {
    statSync(file);
  } catch {
    return fail('known_hosts', `host key unknown: ${file} does not exist, so no host key is pinned for ${name}`, `${trust} (check the fingerprint it prints against your forge's)`);
  }
  const found = await run(['ssh-keygen', '-F', name, '-f', file], { cwd, timeoutMs: 10_000 });
  if (found.exitCode !== 0) {
    return fail('known_hosts', `host key unknown: ${name} is not pinned in ${file}`, `${trust} (check the fingerprint it prints against your forge's)`);
  }
  const keys = parseKnownHosts(found.stdout).map((k) => `${k.type} ${fingerprint(k.blob)}`);
  return ok('known_hosts', `${name} pinned in ${file} (${keys.join(', ')})`);
}

async function checkRemote(target: Target, cwd: string, where: string): Promise<Check[]> {
  const result = await git(['ls-remote', '--heads', '--', target.repo], { cwd, target });
  if (result.exitCode !== 0 || result.timedOut || result.spawnError) {
    const stderr = result.timedOut ? 'Connection timed out (exceeded git_timeout)' : (result.spawnError ?? result.stderr);
    const c = classifyTransport(stderr);
    if (!c) {
      const last = stderr.trim().split('\n').filter(Boolean).pop() ?? `git exited ${result.exitCode}`;
      return [fail('connection', `ls-remote failed: ${last}`, 'run the same with ssh -v to see more: see the README section "Deploy keys and SSH"')];
    }
    const { message, hint } = explain(c, target.repo);
    const name = c.kind === 'repo-not-found' ? 'repository' : c.kind === 'auth-refused' || c.kind === 'key-unusable' ? 'authentication' : 'connection';
    const checks: Check[] = [];
    if (name !== 'connection') checks.push(ok('connection', `reached ${where}`));
    if (name === 'repository') checks.push(ok('authentication', 'key accepted'));
    checks.push(fail(name, message, hint));
    return checks;
  }
  const heads = parseLsRemote(result.stdout);
  const checks = [ok('connection', `reached ${where}`), ok('authentication', 'key accepted'), ok('repository', target.repo)];
  const sha = heads.get(`refs/heads/${target.branch}`);
  if (sha) return [...checks, ok('branch', `${target.branch} at ${sha.slice(0, 12)}`)];
  const names = [...heads.keys()].map((r) => r.replace(/^refs\/heads\//, ''));
  return [
    ...checks,
    fail(
      'branch',
      `branch missing: ${target.branch} does not exist on ${target.repo}${names.length ? ` (branches: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''})` : ' (it has no branches yet)'}`,
      `push ${target.branch}, or set branch: to one of the existing branches`,
    ),
  ];
}

/** Every check for one target; never throws for a problem it can name. */
export async function checkTargetSsh(config: Config, target: Target): Promise<Check[]> {
  // ls-remote and ssh need no repository; any existing directory will do.
  const cwd = existsSync(config.stateDir) ? config.stateDir : tmpdir();
  const dest = sshDestination(target.repo);
  // An ssh config or known_hosts another local user could change decides what ssh runs
  // (ProxyCommand) and whom it trusts: not even read by ssh then (src/config/file-trust.ts).
  const me = runningUser();
  const sshFileProblem = (): Check[] | undefined => {
    for (const [key, file] of [['ssh.config', target.ssh.config], ['ssh.known_hosts', target.ssh.knownHosts]] as const) {
      const untrusted = file ? trustProblem(file, me, key === 'ssh.config' ? 'make ssh run their commands' : 'make ssh trust their host key') : undefined;
      if (untrusted) return [fail(key === 'ssh.config' ? 'ssh config' : 'known_hosts', untrusted.message, untrusted.fix), { name: 'connection', status: 'warn', detail: 'not tried: fix the problem above first' }];
    }
    return undefined;
  };
  if (!dest) {
    const remote = [ok('transport', `${target.repo} is not reached over ssh: no key or host key to check`), ...(await checkRemote(target, cwd, target.repo))];
    // Its LFS server may still be reached over ssh (lfs: { url: ssh://… }).
    if (!(target.lfs && target.lfsUrl && sshDestination(target.lfsUrl))) return remote;
    const refused = sshFileProblem();
    if (refused) return [...remote, ...refused.slice(0, 1).map((c) => ({ ...c, name: `lfs ${c.name}` }))];
    return [...remote, ...(await checkLfsHost(target, undefined, [], cwd))];
  }
  const refused = sshFileProblem();
  if (refused) return refused;
  const resolved = await resolveSsh(target, cwd);
  if ('error' in resolved) {
    const c = classifyTransport(resolved.error);
    if (c?.kind === 'no-passwd-entry') {
      const { message, hint } = explain(c, target.repo);
      return [fail('ssh', message, hint)];
    }
    return [fail('ssh config', `ssh cannot read its settings for ${dest.host}: ${resolved.error}`, `fix ${target.ssh.config ?? 'the ssh options'} (ssh -G -F <file> ${dest.host} shows what ssh reads)`)];
  }
  const checks: Check[] = [];
  const keys = deployKeyFiles(target, resolved);
  if (keys.length === 0) {
    checks.push({ name: 'key', ...noDeployKey(target, dest.host) });
  } else {
    for (const key of keys) checks.push(await checkKeyFile(key, cwd));
  }
  checks.push(await checkKnownHosts(target, resolved, cwd));
  const lfs = await checkLfsHost(target, resolved, keys, cwd);
  const where = `${resolved.user}@${resolved.hostname}:${resolved.port}`;
  if (checks.some((c) => c.status === 'fail')) {
    checks.push({ name: 'connection', status: 'warn', detail: `not tried: fix the problems above first (it would connect to ${where})` });
    return [...checks, ...lfs];
  }
  const remote = await checkRemote(target, cwd, where);
  // The repo's own host serves its LFS (a forge): git-lfs asks it git-lfs-authenticate, so
  // does this, once the repository was reached; only what that adds is reported.
  const own = lfs.length === 0 && !remote.some((c) => c.status === 'fail') ? await checkOwnLfsServer(target, resolved, keys, cwd) : [];
  return [...checks, ...remote, ...lfs, ...own];
}

/**
 * `lfs: true` on an ssh repo whose LFS server is the repo's own host (no `lfs: { url }` on
 * another host): git-lfs gets the API URL and a token from that host's git-lfs-authenticate,
 * which a forge without Git LFS for this repository (or this key) refuses.
 */
async function checkOwnLfsServer(target: Target, resolved: ResolvedSsh, keys: string[], cwd: string): Promise<Check[]> {
  const server = target.lfs ? lfsServer(target) : undefined;
  if (!server || !sshDestination(server)) return [];
  const checks = await checkLfsConnection(target, server, resolved, keys, cwd);
  return checks.filter((c) => c.status !== 'ok' || c.name === 'lfs server');
}

/**
 * An ssh LFS server on another host than the repo (`lfs: { url }`): git-lfs reaches it with
 * the same ssh command, so its key (when ssh.config names another one for it) and its host
 * key in the same known_hosts are checked too; a host key missing there fails only the
 * first deploy with LFS files.
 */
async function checkLfsHost(target: Target, repo: ResolvedSsh | undefined, repoKeys: string[], cwd: string): Promise<Check[]> {
  const lfs = await lfsSshHost(target, cwd, repo);
  if (!lfs) return [];
  const host = sshDestination(lfs.url)?.host ?? lfs.url;
  if ('error' in lfs.resolved) {
    return [fail('lfs ssh config', `ssh cannot read its settings for the LFS server ${host}: ${lfs.resolved.error}`, `fix ${target.ssh.config ?? 'the ssh options'} (ssh -G -F <file> ${host} shows what ssh reads)`)];
  }
  const checks: Check[] = [];
  const keys = deployKeyFiles(target, lfs.resolved);
  if (keys.length === 0) checks.push({ name: 'lfs key', ...noDeployKey(target, host) });
  for (const key of keys.filter((k) => !repoKeys.includes(k))) checks.push({ ...(await checkKeyFile(key, cwd)), name: 'lfs key' });
  const known = await checkKnownHosts(target, lfs.resolved, cwd);
  checks.push({ ...known, name: 'lfs known_hosts', detail: `LFS server: ${known.detail}` });
  const where = `${lfs.resolved.user}@${lfs.resolved.hostname}:${lfs.resolved.port}`;
  if (checks.some((c) => c.status === 'fail')) {
    return [...checks, { name: 'lfs connection', status: 'warn', detail: `not tried: fix the problems above first (it would connect to the LFS server ${where})` }];
  }
  return [...checks, ...(await checkLfsConnection(target, lfs.url, lfs.resolved, keys, cwd))];
}

/**
 * A real connection to the LFS server, made as git-lfs makes it: the target's ssh command
 * (its key, known_hosts and ssh.config) on a connection of its own, never the repo host's
 * shared one, asking `git-lfs-authenticate <path> download`. ssh's own failures (exit 255)
 * are named as the repo host's are, with the LFS host in front. What the server answers is
 * never shown: it holds a token.
 */
async function checkLfsConnection(target: Target, url: string, resolved: ResolvedSsh, keys: string[], cwd: string): Promise<Check[]> {
  const dest = sshDestination(url);
  if (!dest) return [];
  const path = sshUrlPath(url) ?? '';
  const where = `${resolved.user}@${resolved.hostname}:${resolved.port}`;
  const server = `LFS server ${where}`;
  const argv = [...sshArgv(target), '-T', ...(dest.port ? ['-p', String(dest.port)] : []), `${dest.user ? `${dest.user}@` : ''}${dest.host}`, `git-lfs-authenticate ${shellQuote(path)} download`];
  const result = await run(argv, { cwd, timeoutMs: target.gitTimeoutMs, env: { SSH_AUTH_SOCK: undefined, SSH_ASKPASS: '/bin/false', LC_ALL: 'C' } });
  const lastLine = (text: string) => text.trim().split('\n').filter(Boolean).pop()?.trim().slice(0, 300);
  if (result.spawnError) return [fail('lfs connection', `${server}: ssh could not start: ${result.spawnError}`, 'install openssh-client')];
  if (result.timedOut) {
    return [fail('lfs connection', `${server}: no answer within git_timeout`, 'check the host name, port and outbound firewall rules (or raise git_timeout)')];
  }
  if (result.exitCode === 255) {
    const c = classifyTransport(result.stderr);
    if (c?.kind === 'auth-refused') {
      const offered = keys.length ? keys.join(', ') : 'the key ssh offered';
      const pubs = keys.length ? keys.map((k) => `${k}.pub`).join(', ') : 'the key\'s .pub';
      return [
        ok('lfs connection', `reached ${where}`),
        fail(
          'lfs authentication',
          `${server}: authentication refused: it did not accept ${offered} (no other key was tried)`,
          `add ${pubs} to the keys ${where} accepts (a read-only deploy key there, or ${resolved.user}'s authorized_keys), or ${
            target.ssh.config ? `name the key it accepts in an IdentityFile line of ${target.ssh.config}'s Host ${dest.host} block` : `set targets.${target.name}.ssh.config to a file whose Host ${dest.host} block names the key it accepts (IdentityFile)`
          }`,
        ),
      ];
    }
    if (c) {
      const { message, hint } = explain({ ...c, host: c.host ?? trustHostArg(hostKeyName(resolved)) }, url);
      return [fail(c.kind === 'key-unusable' ? 'lfs authentication' : 'lfs connection', `${server}: ${message}`, hint)];
    }
    return [fail('lfs connection', `${server}: ssh failed: ${lastLine(result.stderr) ?? 'exit 255'}`, 'run the same with ssh -v to see more: see the README section "Deploy keys and SSH"')];
  }
  const checks = [ok('lfs connection', `reached ${where}`), ok('lfs authentication', 'key accepted')];
  if (result.exitCode === 0) return [...checks, ok('lfs server', `git-lfs-authenticate answered for ${path}`)];
  const why = lastLine(result.stderr);
  return [
    ...checks,
    {
      name: 'lfs server',
      status: 'warn',
      detail: `git-lfs-authenticate ${path} download failed (exit ${result.exitCode})${why ? `: ${why}` : ''}`,
      fix: `check that ${where} serves Git LFS for ${path} to this key; git-lfs may use git-lfs-transfer instead, which this check does not try`,
    },
  ];
}
