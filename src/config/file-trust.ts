/**
 * Which files pollpray may trust: the one rule `run`, `validate`, `daemon` and `doctor`
 * share. Root, the config's owner and the scripts the config names are trusted; other
 * local users are not. So the config file, every script, hook, key or secret file it
 * names that pollpray runs or reads, and the state and log dirs it writes and reads back,
 * may be changeable only by root or the user running pollpray: the file itself, and
 * every directory a lookup of its path passes through, on its real path and on the path
 * of every symlink on the way.
 *
 * Like OpenSSH's safe_path (misc.c): each component owned by root or the user, not
 * writable by group or others. Unlike it, a directory such as /tmp that others may
 * write but whose sticky bit keeps them from renaming or removing what is not theirs
 * is allowed, as long as the entry looked up in it is owned by root or the user.
 * A path that does not exist (yet) is no question of trust: whoever reports the
 * missing file does.
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { userInfo } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { ConfigError } from '../errors.js';
import { shellQuote } from '../git/ssh.js';
import { keyPathText } from './report.js';
import { walkPath } from '../real-location.js';
import { interpreterChain, lookupChain, scriptPath } from '../host/script-start.js';
import type { Config } from './normalise.js';
import type { KeyPath } from './yaml-source.js';

export interface Runner {
  uid: number;
  user: string;
  /** Further owners trusted for this one check (sudoers: the config's owner, see load.ts). */
  alsoTrusted?: readonly number[];
}

export interface TrustProblem {
  /** What is wrong, naming the file (and the component at fault). */
  message: string;
  /** A command that fixes it. */
  fix: string;
  /** What is at fault: the file itself (its mode or owner), or a directory or link on its way. */
  at: 'file' | 'path';
  /** Set when the file, or a directory or link on its way, belongs to another (non-root) user: that uid. */
  owner?: number;
}

const q = shellQuote;
const mode4 = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');
const othersMayWrite = (mode: number) => (mode & 0o022) !== 0;
const sticky = (mode: number) => (mode & 0o1000) !== 0;

export function runningUser(): Runner {
  const uid = process.getuid?.() ?? 1000;
  try {
    return { uid, user: userInfo().username };
  } catch {
    return { uid, user: '$(id -un)' };
  }
}

function trustedOwner(uid: number, me: Runner): boolean {
  return uid === 0 || uid === me.uid || (me.alsoTrusted?.includes(uid) ?? false);
}

/** `group-writable`, `world-writable` or both, and the chmod that removes exactly that. */
function writableBy(mode: number): { what: string; chmod: string } {
  const group = (mode & 0o020) !== 0;
  const world = (mode & 0o002) !== 0;
  if (group && world) return { what: 'group- and world-writable', chmod: 'go-w' };
  return group ? { what: 'group-writable', chmod: 'g-w' } : { what: 'world-writable', chmod: 'o-w' };
}

function owner(uid: number): string {
  return `uid ${uid}`;
}

export interface TrustOptions {
  /**
   * Accept, on the way (never as the file itself), a directory root owns that its group
   * but not the world may write: Ubuntu ships /var/log as root:syslog 0775, and root chose
   * who is in that group. For the state and log dirs, which live under such directories.
   */
  rootGroupOnTheWay?: boolean;
  /**
   * A directory whose files are read as well (a GnuPG home): each entry in it, at any
   * depth, must pass the same rule, or another user could change what is read from it.
   */
  contents?: boolean;
  /** A file that holds a secret and nothing else: one every local user may read is refused too. */
  secret?: boolean;
}

/** Entries of a directory read with it (a GnuPG home holds a handful). */
const MAX_CONTENTS = 1000;

/**
 * Why `file` cannot be trusted by `me`, or undefined when it can (or does not exist).
 * `harm` says what another user could do with it, e.g. "run commands as deploy".
 */
export function trustProblem(file: string, me: Runner, harm: string, options: TrustOptions = {}): TrustProblem | undefined {
  let root: Stats;
  try {
    root = lstatSync('/');
  } catch {
    return undefined;
  }
  let problem = directoryProblem(file, '/', root, me, harm, options);
  if (problem) return problem;
  // Where a component is missing, a loop or a non-directory ends the walk, whoever opens the file reports it.
  walkPath(file, ({ dir, dirStat, path: next, stat: st, last }) => {
    // In a directory others may write, only its sticky bit protects the entry: it must be root's or ours.
    if (othersMayWrite(dirStat.mode) && !trustedOwner(st.uid, me)) {
      problem = {
        message: `${describe(file, next)} is owned by ${owner(st.uid)} in ${dir} (mode ${mode4(dirStat.mode)}), which others can write: that user could replace it and ${harm}`,
        fix: `chown -h ${me.user} ${q(next)} (as root), or move ${q(file)} to a directory only ${me.user} or root can write`,
        at: 'path',
        owner: st.uid,
      };
      return true;
    }
    // A link's own directory was checked; its target is walked next.
    if (st.isSymbolicLink()) return false;
    if (last) {
      problem = fileProblem(file, next, st, me, harm) ?? (options.secret ? readableByAll(file, next, st) : undefined);
      return true;
    }
    if (!st.isDirectory()) return true;
    problem = directoryProblem(file, next, st, me, harm, options);
    return problem !== undefined;
  });
  return problem ?? (options.contents ? contentsProblem(file, me, harm) : undefined);
}

/** The first entry under `dir` (at any depth, links walked as any path is) that `me` cannot trust. */
function contentsProblem(dir: string, me: Runner, harm: string): TrustProblem | undefined {
  const pending = [dir];
  let seen = 0;
  for (let at = pending.pop(); at !== undefined; at = pending.pop()) {
    let names: string[];
    try {
      names = readdirSync(at).sort();
    } catch {
      continue; // not a directory, or unreadable: whoever reads it reports that
    }
    for (const name of names) {
      if (++seen > MAX_CONTENTS) return undefined;
      const entry = join(at, name);
      const problem = trustProblem(entry, me, harm);
      if (problem) return problem;
      if (lstatSync(entry, { throwIfNoEntry: false })?.isDirectory()) pending.push(entry);
    }
  }
  return undefined;
}

/** `/etc/x.yaml` or `/etc/x.yaml (really /srv/x.yaml)`. */
function describe(file: string, real: string): string {
  return file === real ? file : `${file} (really ${real})`;
}

function directoryProblem(file: string, dir: string, st: Stats, me: Runner, harm: string, options: TrustOptions): TrustProblem | undefined {
  if (!trustedOwner(st.uid, me)) {
    return {
      message: `${file} is in ${dir}, owned by ${owner(st.uid)} (not root or ${me.user}): that user could replace ${file} and ${harm}`,
      fix: `chown ${me.user} ${q(dir)} (as root), or move ${q(file)} to a directory only ${me.user} or root can write`,
      at: 'path',
      owner: st.uid,
    };
  }
  const rootsGroup = options.rootGroupOnTheWay === true && st.uid === 0 && (st.mode & 0o002) === 0;
  if (othersMayWrite(st.mode) && !sticky(st.mode) && !rootsGroup) {
    const w = writableBy(st.mode);
    return {
      message: `${file} is in ${dir}, which is ${w.what} (mode ${mode4(st.mode)}): any ${w.chmod === 'g-w' ? 'member of its group' : 'local user'} could replace ${file} and ${harm}`,
      fix: `chmod ${w.chmod} ${q(dir)}`,
      at: 'path',
    };
  }
  return undefined;
}

function fileProblem(file: string, real: string, st: Stats, me: Runner, harm: string): TrustProblem | undefined {
  if (!trustedOwner(st.uid, me)) {
    return {
      message: `${describe(file, real)} is owned by ${owner(st.uid)}, not by root or ${me.user} who runs pollpray: that user could change it and ${harm}`,
      fix: `chown ${me.user} ${q(real)} (as root)`,
      at: 'file',
      owner: st.uid,
    };
  }
  if (othersMayWrite(st.mode)) {
    const w = writableBy(st.mode);
    return {
      message: `${describe(file, real)} is ${w.what} (mode ${mode4(st.mode)}): any ${w.chmod === 'g-w' ? 'member of its group' : 'local user'} could ${st.isDirectory() ? 'write in it' : 'change it'} and ${harm}`,
      fix: `chmod ${w.chmod} ${q(real)}`,
      at: 'file',
    };
  }
  return undefined;
}

/** A secret file every local user can read (as ssh refuses a private key others can read). */
function readableByAll(file: string, real: string, st: Stats): TrustProblem | undefined {
  if ((st.mode & 0o004) === 0) return undefined;
  return {
    message: `${describe(file, real)} is readable by every local user (mode ${mode4(st.mode)}): anyone could read the secret in it`,
    fix: `chmod o-r ${q(real)}`,
    at: 'file',
  };
}

/** A file the config names that pollpray runs or reads, with where it is named. */
export interface NamedFile {
  /** Config key path, e.g. ['targets', 'app', 'deploy']. */
  key: KeyPath;
  path: string;
  /** `writes`: a directory pollpray writes its state or logs into (and reads back from). */
  use: 'runs' | 'reads' | 'key' | 'writes';
  /** What another user could do with it, when not what its `use` says (sudo runs it as root). */
  harm?: string;
  /** A directory whose files are read too (a GnuPG keyring): each is checked. */
  contents?: true;
  /** Holds a secret (serve.secret_file, coordination.password_file): others may not read it either. */
  secret?: true;
}

/** argv[0] when it is a path (a bare name is looked up on PATH, which is the environment's). */
function commandFile(argv: readonly string[] | undefined): string | undefined {
  const bin = argv?.[0];
  return bin !== undefined && bin.startsWith('/') ? bin : undefined;
}

/** Every script, hook, key and secret file the config names, by the key naming it. */
export function namedFiles(config: Config): NamedFile[] {
  const files: NamedFile[] = [];
  const add = (key: KeyPath, path: string | undefined, use: NamedFile['use'], harm?: string) => {
    if (path) files.push({ key, path, use, ...(harm === undefined ? {} : { harm }) });
  };
  for (const t of config.targets) {
    const at = ['targets', t.name];
    add([...at, 'deploy'], t.deploy, 'runs');
    t.steps?.forEach((step, i) => {
      add([...at, 'steps', i, 'run'], commandFile(step.run), 'runs');
      add([...at, 'steps', i, 'on_success', 'run'], commandFile(step.onSuccess?.run), 'runs');
      add([...at, 'steps', i, 'on_failure', 'run'], commandFile(step.onFailure?.run), 'runs');
    });
    add([...at, 'health', 'command'], commandFile(t.health?.command), 'runs');
    add([...at, 'ssh', 'key'], t.ssh.key, 'key');
    add([...at, 'ssh', 'known_hosts'], t.ssh.knownHosts, 'reads');
    add([...at, 'ssh', 'config'], t.ssh.config, 'reads');
    add([...at, 'verify', 'allowed_signers'], t.verify?.allowedSigners, 'reads');
    if (t.verify?.keyring) files.push({ key: [...at, 'verify', 'keyring'], path: t.verify.keyring, use: 'reads', contents: true });
  }
  config.notify.forEach((n, i) => add(['notify', i, 'command'], commandFile(n.command), 'runs'));
  // Run through sudo as root: only when some target restarts units.
  for (const f of serviceManagerFiles(config)) add(f.key, f.path, f.use, f.harm);
  for (const [key, path] of [[['serve', 'secret_file'], config.serve?.secretFile], [['coordination', 'password_file'], config.coordination?.passwordFile]] as const) {
    if (path) files.push({ key: [...key], path, use: 'reads', secret: true });
  }
  // Another user who can write these plants what pollpray reads back (state, history, locks)
  // or a link its next write follows (a record's temp, the day's new log file).
  add(['state_dir'], config.stateDir, 'writes');
  add(['log', 'dir'], config.log.dir, 'writes');
  return files;
}

/**
 * The service manager binaries and `supervisor_config` that sudo runs (reads) as root for
 * the targets that restart something, each once, by the top-level key that names it. A
 * target on `service` or `supervisorctl` runs those, not `systemctl`.
 */
const AS_ROOT = 'run commands as root through the sudo rule';

export function serviceManagerFiles(config: Config): NamedFile[] {
  const files = new Map<string, NamedFile>();
  for (const t of config.targets) {
    if (t.restart.length === 0) continue;
    const m = t.serviceManager;
    const binaryKey = m.kind === 'systemd' ? 'systemctl' : m.kind;
    files.set(`${binaryKey}\0${m.binary}`, { key: [binaryKey], path: m.binary, use: 'runs', harm: AS_ROOT });
    if (m.config) files.set(`supervisor_config\0${m.config}`, { key: ['supervisor_config'], path: m.config, use: 'reads', harm: AS_ROOT });
  }
  return [...files.values()];
}

function harmOf(use: NamedFile['use'], me: Runner): string {
  if (use === 'runs') return `run commands as ${me.user}`;
  if (use === 'key') return 'swap the deploy key';
  if (use === 'writes') return `plant the files and links pollpray reads back and writes through as ${me.user}`;
  return 'change what pollpray trusts';
}

export interface NamedFileProblem extends NamedFile, TrustProblem {}

/**
 * What the programs the config names also start, by the key naming them: a bare name's
 * PATH directories up to where it is found and the file found there, and the `#!`
 * interpreter of each script (with how `env` finds its program). Programs from the
 * deployed code (a relative path, a PATH directory inside the target) are the commit's.
 */
export function startedFiles(config: Config): NamedFile[] {
  const files: NamedFile[] = [];
  const add = (key: KeyPath, paths: readonly string[]) => {
    for (const path of paths) files.push({ key, path, use: 'runs' });
  };
  const program = (key: KeyPath, argv: readonly string[] | undefined, path: string, code: string) => {
    const bin = argv?.[0];
    if (!bin || bin.includes('{{')) return;
    if (!bin.includes('/')) {
      const chain = lookupChain(bin, path, code);
      if (chain) add(key, [...chain, ...interpreterChain(chain[chain.length - 1]!, path, code)]);
    } else if (isAbsolute(bin) && relative(code, bin).startsWith('..')) add(key, interpreterChain(bin, path, code));
  };
  for (const t of config.targets) {
    const at = ['targets', t.name];
    const path = scriptPath(t);
    if (t.deploy) add([...at, 'deploy'], interpreterChain(t.deploy, path, t.path));
    t.steps?.forEach((step, i) => {
      const stepPath = step.env.PATH ?? path;
      program([...at, 'steps', i, 'run'], step.run, stepPath, t.path);
      program([...at, 'steps', i, 'on_success', 'run'], step.onSuccess?.run, stepPath, t.path);
      program([...at, 'steps', i, 'on_failure', 'run'], step.onFailure?.run, stepPath, t.path);
    });
    program([...at, 'health', 'command'], t.health?.command, process.env.PATH ?? '', t.path);
  }
  config.notify.forEach((n, i) => program(['notify', i, 'command'], n.command, process.env.PATH ?? '', '/nonexistent-code-dir'));
  return files;
}

/** The files the config names that someone other than root or `me` could change. */
export function untrustedNamedFiles(config: Config, me: Runner): NamedFileProblem[] {
  // Two hundred targets naming one key and one known_hosts walk each path once, not 200 times.
  const seen = new Map<string, TrustProblem | undefined>();
  const problems = [...namedFiles(config), ...startedFiles(config)].flatMap((f): NamedFileProblem[] => {
    const harm = f.harm ?? harmOf(f.use, me);
    const id = `${harm}\0${f.contents === true}\0${f.secret === true}\0${f.path}`;
    if (!seen.has(id)) seen.set(id, trustProblem(f.path, me, harm, { rootGroupOnTheWay: f.use === 'writes', contents: f.contents, secret: f.secret }));
    const problem = seen.get(id);
    if (!problem) return [];
    // A state or log dir that is itself another user's is the wrong-user case (host/ownership.ts):
    // every command that writes stops on it with exit 3 and "run it as <owner>".
    if (f.use === 'writes' && problem.at === 'file' && problem.owner !== undefined) return [];
    // A deploy key must be private too: the fix that makes ssh accept it.
    const fix = f.use === 'key' && problem.at === 'file' && /^chmod /.test(problem.fix) ? `chmod 600 ${q(f.path)}` : problem.fix;
    return [{ ...f, ...problem, fix }];
  });
  // known_hosts and the default log dir live in the state dir: when it is the state dir that
  // others can write, say so once, for the state dir, rather than once per file in it.
  const dirFixes = new Set(problems.filter((p) => p.use === 'writes').map((p) => p.fix));
  return problems.filter((p, i) => p.use === 'writes' ? problems.findIndex((o) => o.use === 'writes' && o.fix === p.fix) === i : !dirFixes.has(p.fix));
}

/** A state or log dir other local users could write, as the commands that only look report it. */
export interface DirProblem {
  /** The config key naming it: `state_dir` or `log.dir`. */
  key: string;
  path: string;
  message: string;
  fix: string;
}

/**
 * The state and log dirs other local users could write: what every command that writes
 * there refuses. `status` and `history` report them instead, and read nothing in a state
 * dir among them: a file planted there (a FIFO that blocks the read, a made-up state)
 * must neither hang them nor be shown as pollpray's.
 */
export function untrustedDirs(config: Config, me: Runner): DirProblem[] {
  return untrustedNamedFiles(config, me)
    .filter((p) => p.use === 'writes')
    .map((p) => ({ key: keyPathText(p.key), path: p.path, message: p.message, fix: p.fix }));
}

/** One line for `status` and `history`: the dir, what others could do, and the fix. */
export function dirProblemLine(p: DirProblem): string {
  const unread = p.key === 'state_dir' ? 'not read, and ' : '';
  return `${p.key}: ${p.message}; ${unread}pollpray run refuses it until fixed (fix: ${p.fix})`;
}

/** The config file itself: anyone who can change it can make pollpray run their commands. */
export function configFileProblem(file: string, me: Runner): TrustProblem | undefined {
  return trustProblem(file, me, 'make pollpray run their commands');
}

/**
 * Throws one ConfigError (exit 2) when a file the config names could be changed by
 * another local user: one line for one file (`<config>:<line> <key>: <what> (fix: …)`),
 * a line per file for several. `lineOf` gives the key's line in the config file, when
 * the caller still has it (loading); a long-running daemon checks again before each
 * cycle without it.
 */
export function refuseUntrustedFiles(config: Config, me: Runner, lineOf?: (key: KeyPath) => number, only?: 'dirs'): void {
  // `dirs`: only the state and log dirs, for commands that write there but run nothing the config names (pause, resume).
  const untrusted = untrustedNamedFiles(config, me).filter((p) => only !== 'dirs' || p.use === 'writes');
  const where = (key: KeyPath) => `${config.file}${lineOf ? `:${lineOf(key)}` : ''} ${keyPathText(key)}`;
  const [first] = untrusted;
  if (!first) return;
  if (untrusted.length === 1) throw new ConfigError(`${where(first.key)}: ${first.message}`, { hint: first.fix });
  const lines = untrusted.map((p) => `${where(p.key)}: ${p.message} (fix: ${p.fix})`);
  throw new ConfigError([`${untrusted.length} files ${config.file} names could be changed by other local users:`, ...lines].join('\n'));
}
