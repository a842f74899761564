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
import { hostKeyName, resolveSsh } from '../git/ssh-resolve.js';
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
  /** The key itself, base64 as in a known_hosts line. */
  blob: string;
}

export interface FileChange {
  file: string;
  /** The names the keys are pinned under in this file (a target's HostKeyAlias, or `host` / `[host]:port`). */
  names: string[];
  added: number;
  replaced: number;
  alreadyPinned: number;
}

export interface TrustHostReport {
  /** Every name the keys are pinned under, comma-separated. */
  name: string;
  keys: HostKey[];
  trusted: HostKey[];
  files: FileChange[];
}

/**
 * Where to write and under which names: the known_hosts file of each target whose ssh
 * destination (its repo's, or its ssh LFS server's, `lfs: { url }`, reached with the same ssh
 * settings) is host:port, each with the name that target's ssh looks the key up under (its
 * `HostKeyAlias` when its ssh.config sets one), else the default file. `arg` may also be such
 * an alias, as ssh names it when it refuses: the keys are then fetched from the host and port
 * the alias stands for.
 */
async function destinations(options: TrustHostOptions, arg: string, host: string, port: number): Promise<{ scan: { host: string; port: number }; files: Map<string, Set<string>> }> {
  const plain = { host, port };
  if (options.knownHosts) return { scan: plain, files: new Map([[options.knownHosts, new Set([knownHostsName(host, port)])]]) };
  const config = options.config;
  if (!config) throw new UsageError('no config found to decide which known_hosts to write', { hint: 'pass --known-hosts <file>, or --config <file>' });
  const files = new Map<string, Set<string>>();
  const scans = new Map<string, { host: string; port: number }>();
  for (const target of config.targets) {
    const urls = [target.repo, ...(target.lfs && target.lfsUrl ? [target.lfsUrl] : [])].filter((url) => sshDestination(url));
    for (const url of urls) {
      const resolved = await resolveSsh(target, tmpdir(), url);
      if ('error' in resolved) continue;
      const byHost = resolved.hostname === host && resolved.port === port;
      const byAlias = resolved.hostKeyAlias !== undefined && resolved.hostKeyAlias === arg.trim();
      if (!byHost && !byAlias) continue;
      const scan = byHost ? plain : { host: resolved.hostname, port: resolved.port };
      scans.set(knownHostsName(scan.host, scan.port), scan);
      const names = files.get(target.ssh.knownHosts) ?? new Set<string>();
      names.add(hostKeyName(resolved));
      files.set(target.ssh.knownHosts, names);
    }
  }
  if (scans.size > 1) {
    throw new UsageError(`"${arg}" stands for more than one host (${[...scans.keys()].join(', ')}) in the targets' ssh settings`, {
      hint: 'pass the host and port to fetch the keys from, e.g. pollpray trust-host git.example.com:2222',
    });
  }
  const [scan] = scans.values();
  return scan ? { scan, files } : { scan: plain, files: new Map([[defaultKnownHosts(config.stateDir), new Set([knownHostsName(host, port)])]]) };
}

export async function trustHost(options: TrustHostOptions): Promise<TrustHostReport> {
  const parsed = parseHostArg(options.host);
  if (!parsed) throw new UsageError(`"${options.host}" is not a host or host:port`, { hint: 'e.g. pollpray trust-host github.com or trust-host git.example.com:2222' });
  const { scan: to, files: names } = await destinations(options, options.host, parsed.host, parsed.port);
  const { host, port } = to;
  const files = [...names.keys()];
  const allNames = [...new Set([...names.values()].flatMap((n) => [...n]))];
  const name = allNames.join(', ');
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
  const keys: HostKey[] = scanned.map((k) => ({ type: k.type, fingerprint: fingerprint(k.blob), blob: k.blob }));

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
    const fileNames = [...(names.get(file) ?? [])];
    const forName = fileNames.map((n) => {
      const forHost = existing.filter((k) => hostFieldNames(k.hosts, n));
      // Keys presented now that are not pinned yet under this name.
      const fresh = trusted.filter((t) => !forHost.some((k) => k.type === t.type && k.blob === t.blob)).map((t) => keyLineText({ hosts: n, type: t.type, blob: t.blob }));
      return { fresh, alreadyPinned: trusted.length - fresh.length };
    });
    // A pinned key of the same type that differs from what the host presents now.
    const conflicts = existing.filter((k) => fileNames.some((n) => hostFieldNames(k.hosts, n)) && trusted.some((t) => t.type === k.type && t.blob !== k.blob));
    return { file, text, fileNames, forName, conflicts };
  });
  const changed = plans.filter((p) => p.conflicts.length > 0);
  if (changed.length > 0 && !options.replace) {
    const old = changed[0]!.conflicts.map((k: KeyLine) => `${k.type} ${fingerprint(k.blob)}`).join(', ');
    throw new SshError(`HOST KEY CHANGED: ${changed.map((p) => p.file).join(', ')} already pins a different key for ${name} (${old}); nothing was written`, {
      hint: `only if the server's owner confirms the new key: pollpray trust-host ${options.host} --replace`,
    });
  }

  const results: FileChange[] = plans.map(({ file, text, fileNames, forName, conflicts }) => {
    const drop = new Set(conflicts.map(keyLineText));
    const kept = text.split('\n').filter((line) => {
      const [k] = parseKnownHosts(line);
      return !(k && drop.has(keyLineText(k)));
    });
    const fresh = forName.flatMap((f) => f.fresh);
    if (fresh.length > 0 || conflicts.length > 0) {
      const body = kept.join('\n').replace(/\n*$/, '');
      mkdirSync(dirname(file), { recursive: true, mode: 0o750 });
      writeFileAtomic(file, `${body ? `${body}\n` : ''}${fresh.map((line) => `${line}\n`).join('')}`, 0o644);
    }
    return { file, names: fileNames, added: fresh.length, replaced: conflicts.length, alreadyPinned: forName.reduce((n, f) => n + f.alreadyPinned, 0) };
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
        out(`${f.file}: ${parts.join(', ')} (${f.names.join(', ')})`);
      }
    });
}
