/**
 * `pollpray trust-host <host>[:port]`: fetch the host's keys with ssh-keyscan, show
 * their SHA256 fingerprints, and pin them in the known_hosts file(s) the targets on
 * that host use, only once the user confirmed, passed --yes, or passed the fingerprint
 * their forge publishes. The file is replaced atomically and never gets a line twice.
 * A different key already pinned for the host is a changed host key: refused unless
 * --replace, which drops the old key of that type.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { defaultKnownHosts, type Config } from '../config/normalise.js';
import { ConfigError, SshError, UsageError } from '../errors.js';
import { runningUser, trustProblem } from '../config/file-trust.js';
import { run } from '../exec/run.js';
import { resolveSsh } from '../git/ssh-resolve.js';
import { fingerprint, hostFieldNames, keyLineText, parseKnownHosts, type KeyLine } from '../git/host-keys.js';
import { knownHostsName, parseHostArg, sshDestination } from '../git/ssh-url.js';
import { writeFileAtomic } from '../state/store.js';
import type { Command } from 'commander';
import { configFrom, type CliContext } from './cli-context.js';
import { ask, out, stdinIsTty } from '../log/console.js';

export interface TrustHostOptions {
  host: string;
  /** Loaded config, when there is one: decides which known_hosts files to write. */
  config?: Config;
  /** Write here instead of the targets' files. */
  knownHosts?: string;
  yes: boolean;
  fingerprint?: string;
  replace: boolean;
  /** Asks the user (TTY only); absent on a non-interactive run. */
  confirm?: (keys: HostKey[], files: string[]) => Promise<boolean>;
  timeoutMs?: number;
}

export interface HostKey {
  type: string;
  fingerprint: string;
  line: string;
}

export interface FileChange {
  file: string;
  added: number;
  replaced: number;
  alreadyPinned: number;
}

export interface TrustHostReport {
  name: string;
  keys: HostKey[];
  trusted: HostKey[];
  files: FileChange[];
}

/**
 * known_hosts files of the targets whose ssh destination is host:port, their repo's or
 * their ssh LFS server's (`lfs: { url }`, reached with the same ssh settings); else the default.
 */
async function destinationFiles(options: TrustHostOptions, host: string, port: number): Promise<string[]> {
  if (options.knownHosts) return [options.knownHosts];
  const config = options.config;
  if (!config) throw new UsageError('no config found to decide which known_hosts to write', { hint: 'pass --known-hosts <file>, or --config <file>' });
  const files = new Set<string>();
  for (const target of config.targets) {
    const urls = [target.repo, ...(target.lfs && target.lfsUrl ? [target.lfsUrl] : [])].filter((url) => sshDestination(url));
    for (const url of urls) {
      const resolved = await resolveSsh(target, tmpdir(), url);
      if (!('error' in resolved) && resolved.hostname === host && resolved.port === port) files.add(target.ssh.knownHosts);
    }
  }
  return files.size > 0 ? [...files] : [defaultKnownHosts(config.stateDir)];
}

export async function trustHost(options: TrustHostOptions): Promise<TrustHostReport> {
  const parsed = parseHostArg(options.host);
  if (!parsed) throw new UsageError(`"${options.host}" is not a host or host:port`, { hint: 'e.g. pollpray trust-host github.com or trust-host git.example.com:2222' });
  const { host, port } = parsed;
  const name = knownHostsName(host, port);
  const files = await destinationFiles(options, host, port);
  // The file this writes decides whom every later fetch trusts: one another local user could
  // change (or swap through its directory) must not get a pin, nor be read back into it.
  for (const file of files) {
    const untrusted = trustProblem(file, runningUser(), 'make ssh trust their host key');
    const named = options.knownHosts === file ? `--known-hosts ${file}` : file;
    if (untrusted) throw new ConfigError(untrusted.message.replace(file, named), { hint: untrusted.fix });
  }

  const scan = await run(['ssh-keyscan', '-T', String(Math.ceil((options.timeoutMs ?? 10_000) / 1000)), '-p', String(port), '--', host], {
    cwd: tmpdir(),
    timeoutMs: (options.timeoutMs ?? 10_000) + 5000,
  });
  const scanned = parseKnownHosts(scan.stdout);
  if (scanned.length === 0) {
    const why = scan.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('#')).pop()?.trim();
    throw new SshError(`could not fetch host keys from ${host}:${port}${why ? `: ${why}` : ' (no answer)'}`, {
      hint: 'check the host name and port, and that it is reachable from here (pollpray test-ssh says more)',
    });
  }
  const keys: HostKey[] = scanned.map((k) => ({ type: k.type, fingerprint: fingerprint(k.blob), line: keyLineText({ ...k, hosts: name }) }));

  let trusted: HostKey[];
  if (options.fingerprint) {
    const wanted = options.fingerprint.trim().replace(/=+$/, '');
    trusted = keys.filter((k) => k.fingerprint === wanted);
    if (trusted.length === 0) {
      throw new SshError(`none of ${name}'s ${keys.length} host keys has fingerprint ${wanted}; nothing was written (this could be interception, or a wrong fingerprint)`, {
        hint: `compare with the fingerprints your forge publishes: ${keys.map((k) => `${k.type} ${k.fingerprint}`).join(', ')}`,
      });
    }
  } else if (options.yes) {
    trusted = keys;
  } else if (options.confirm) {
    if (!(await options.confirm(keys, files))) return { name, keys, trusted: [], files: [] };
    trusted = keys;
  } else {
    const shown = keys.map((k) => `${k.type} ${k.fingerprint}`).join(', ');
    throw new UsageError(`not confirmed: ${name} presents ${shown}; nothing written to ${files.join(', ')}`, {
      hint: `check these fingerprints against your forge's, then rerun with --yes or --fingerprint SHA256:…`,
    });
  }

  // Check every file before writing any, so a refusal leaves all of them as they were.
  const plans = files.map((file) => {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const existing = parseKnownHosts(text);
    const forHost = existing.filter((k) => hostFieldNames(k.hosts, name));
    // A pinned key of the same type that differs from what the host presents now.
    const conflicts = forHost.filter((k) => trusted.some((t) => t.type === k.type && t.line !== keyLineText({ ...k, hosts: name })));
    return { file, text, forHost, conflicts };
  });
  const changed = plans.filter((p) => p.conflicts.length > 0);
  if (changed.length > 0 && !options.replace) {
    const old = changed[0]!.conflicts.map((k: KeyLine) => `${k.type} ${fingerprint(k.blob)}`).join(', ');
    throw new SshError(`HOST KEY CHANGED: ${changed.map((p) => p.file).join(', ')} already pins a different key for ${name} (${old}); nothing was written`, {
      hint: `only if the server's owner confirms the new key: pollpray trust-host ${options.host} --replace`,
    });
  }

  const results: FileChange[] = plans.map(({ file, text, forHost, conflicts }) => {
    const drop = new Set(conflicts.map(keyLineText));
    const kept = text.split('\n').filter((line) => {
      const [k] = parseKnownHosts(line);
      return !(k && drop.has(keyLineText(k)));
    });
    const present = new Set(forHost.map((k) => keyLineText({ ...k, hosts: name })));
    const fresh = trusted.filter((t) => !present.has(t.line));
    if (fresh.length > 0 || conflicts.length > 0) {
      const body = kept.join('\n').replace(/\n*$/, '');
      mkdirSync(dirname(file), { recursive: true, mode: 0o750 });
      writeFileAtomic(file, `${body ? `${body}\n` : ''}${fresh.map((t) => `${t.line}\n`).join('')}`, 0o644);
    }
    return { file, added: fresh.length, replaced: conflicts.length, alreadyPinned: trusted.length - fresh.length };
  });
  return { name, keys, trusted, files: results };
}

export function defineCommands(program: Command, _cli: CliContext): void {
  program
    .command('trust-host')
    .description('fetch a host\'s ssh keys, show their fingerprints and pin them after confirmation')
    .argument('<host>', 'host or host:port, e.g. github.com or git.example.com:2222')
    .option('-y, --yes', 'pin the keys without asking (check the printed fingerprints first)')
    .option('--fingerprint <sha256>', 'pin only the key with this fingerprint (SHA256:…, as your forge publishes it)')
    .option('--replace', 'replace a different key already pinned for this host (a changed host key)')
    .option('--known-hosts <file>', 'write here instead of the known_hosts of the targets on this host')
    .action(async (host: string, opts: { yes?: boolean; fingerprint?: string; replace?: boolean; knownHosts?: string }, cmd: Command) => {
      // The same refusal as run: the ssh config it reads (ssh -G) and the known_hosts it writes included.
      const config = opts.knownHosts ? undefined : await configFrom(cmd);
      const report = await trustHost({
        host,
        config,
        knownHosts: opts.knownHosts,
        yes: !!opts.yes,
        fingerprint: opts.fingerprint,
        replace: !!opts.replace,
        confirm: stdinIsTty()
          ? async (keys, files) => {
              for (const k of keys) out(`${host}: ${k.type} ${k.fingerprint}`);
              const answer = await ask(`Pin ${keys.length === 1 ? 'this key' : `these ${keys.length} keys`} in ${files.join(', ')}? Compare with your forge's published fingerprints first. [y/N] `);
              return /^y(es)?$/i.test(answer);
            }
          : undefined,
      });
      if (!stdinIsTty() || opts.yes || opts.fingerprint) for (const k of report.keys) out(`${host}: ${k.type} ${k.fingerprint}`);
      if (report.trusted.length === 0) out('nothing pinned');
      for (const f of report.files) {
        const parts = [f.added ? `added ${f.added}` : '', f.replaced ? `replaced ${f.replaced}` : '', f.alreadyPinned ? `${f.alreadyPinned} already pinned` : ''].filter(Boolean);
        out(`${f.file}: ${parts.join(', ')} (${report.name})`);
      }
    });
}
