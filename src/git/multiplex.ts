/**
 * One ssh connection per destination and identity for the length of a run
 * (ControlMaster). Twenty targets on one forge then cost one handshake instead of
 * twenty. The first git call to a destination becomes the master (ControlMaster=auto);
 * later calls, with the same ControlPath, ride on it.
 *
 * - The ControlPath is `<state_dir>/ssh/<16 hex>`: a hash of the whole identity (ssh
 *   config, key, known_hosts, port, user, timeouts) and of the destination as written
 *   in the URL. Different keys never share a connection: a master authenticated with
 *   one key would otherwise serve a target configured with another.
 * - A unix socket path holds at most 107 bytes, and ssh binds `<path>.<16 random>`
 *   first, so the path itself must stay under 90; a longer state_dir turns
 *   multiplexing off (with a warning) rather than failing.
 * - `run` opens each group's master itself as soon as the config is read
 *   (`openMasters`), so the handshake overlaps the rest of start-up (lock, state,
 *   leftovers) instead of following it, and every target of a group whose master is
 *   up can start at once. A run of a config it ran before may have started the masters
 *   even earlier, before the config was parsed (early-connect.ts); `openMasters` adopts
 *   one only when its argv is exactly the one the validated config gives, and closes any
 *   other. When that master cannot be opened, the group's first git call
 *   goes alone as before and becomes the master (ControlMaster=auto), with git's own
 *   diagnosis of what is wrong.
 * - The master daemonizes into its own session, so neither a git timeout nor the
 *   deploy script's leftover-group kill can end it early; `closeMultiplexing` sends
 *   `ssh -O exit` to each one at the end of the run, and ControlPersist bounds its
 *   life if pollpray is killed before that.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Target } from '../config/normalise.js';
import { killGroup } from '../exec/groups.js';
import { run } from '../exec/run.js';
import { fsFault } from '../host/fs-fault.js';
import { log } from '../log/logger.js';
import { sshArgv } from './ssh.js';
import { sshDestination } from './ssh-url.js';

/** sun_path is 108 bytes with the NUL; ssh appends ".XXXXXXXXXXXXXXXX" while binding. */
export const MAX_CONTROL_PATH = 107 - 17;
const PERSIST = '60s';

interface Session {
  dir: string;
  used: Map<string, string[]>;
  /** Masters being opened: closing waits for them, so none comes up after its -O exit. */
  opening: Array<Promise<boolean>>;
}

let session: Session | undefined;

/**
 * Control paths whose master another run opened (its socket was there first, or its
 * master won the race to bind it). This run's git calls may go over it, but it is never
 * sent `-O exit`: that would cut the other run's transfers. A stale socket found there is
 * replaced by git's own ssh, whose master ends by itself after ControlPersist.
 */
const othersMasters = new Set<string>();

export function controlDir(stateDir: string): string {
  return join(stateDir, 'ssh');
}

/** The ControlPath a target would use under `dir`, or undefined when it does not go over ssh. */
export function controlPath(dir: string, target: Target): string | undefined {
  const hash = identityHash(target);
  return hash === undefined ? undefined : join(dir, hash);
}

/** A target's config does not change while it is loaded: its identity is hashed once (every git call asks). */
const identities = new WeakMap<Target, string | null>();

function identityHash(target: Target): string | undefined {
  let hash = identities.get(target);
  if (hash === undefined) {
    const dest = sshDestination(target.repo);
    // git-lfs runs the same ssh command for an ssh LFS server: with this ControlPath it would
    // reach that server over the repo host's connection (the repo host, never the LFS host,
    // whose host key would go unchecked). Such a target does not share a connection.
    const lfs = target.lfsUrl ? sshDestination(target.lfsUrl) : undefined;
    const shared = dest && (!lfs || lfs.authority === dest.authority);
    hash = shared ? createHash('sha256').update(JSON.stringify([sshArgv(target), dest.authority])).digest('hex').slice(0, 16) : null;
    identities.set(target, hash);
  }
  return hash ?? undefined;
}

/** The group a target shares a connection with (targets not over ssh are their own group). */
export function connectionGroup(target: Target): string {
  return controlPath('', target) ?? `local:${target.name}`;
}

/** Turns multiplexing on for this process; returns false (and warns) when the path would not fit. */
export function startMultiplexing(stateDir: string): boolean {
  const dir = controlDir(stateDir);
  if (join(dir, '0123456789abcdef').length > MAX_CONTROL_PATH) {
    log.warn(`ssh connection sharing is off: ${dir} is too long for a unix socket path`, { step: 'ssh' });
    return false;
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    // A read-only or foreign state_dir: say which key to fix, not "internal error: ENOENT".
    throw fsFault(err) ?? err;
  }
  session = { dir, used: new Map(), opening: [] };
  return true;
}

/** Extra ssh options for a target's git calls while multiplexing is on. */
export function multiplexOptions(target: Target): string[] {
  if (!session) return [];
  const path = controlPath(session.dir, target);
  if (!path) return [];
  const base = sshArgv(target);
  session.used.set(path, base);
  return ['-o', 'ControlMaster=auto', '-o', `ControlPath=${path}`, '-o', `ControlPersist=${PERSIST}`];
}

/** How one connection group's master is opened: what the early start (early-connect.ts) replays. */
export interface MasterPlan {
  group: string;
  /** The ControlPath. */
  path: string;
  /** The identity part (sshArgv), also what `ssh -O exit` is sent with. */
  base: string[];
  /** `[-p port] -- [user@]host`. */
  dest: string[];
  timeoutMs: number;
}

/** The full `ssh -N` argv of a master. */
export function masterArgv(plan: MasterPlan): string[] {
  return [
    ...plan.base,
    '-o', 'ControlMaster=yes',
    // The master forwards a session's environment only for names in its OWN SendEnv
    // (clientloop.c checks the master's options, not the mux client's): without this,
    // git's GIT_PROTOCOL=version=2 never reaches sshd, and partial clones, which need
    // v2's fetch by object id, fail. git's own ssh, when it became the master, set it.
    '-o', 'SendEnv=GIT_PROTOCOL',
    '-o', `ControlPath=${plan.path}`,
    '-o', `ControlPersist=${PERSIST}`,
    '-N',
    ...plan.dest,
  ];
}

/**
 * One plan per connection group of `targets` (over ssh) under `dir`. A host or user
 * that would read as an option gets none: it is left to git, which refuses it.
 */
export function masterPlans(dir: string, targets: readonly Target[]): MasterPlan[] {
  const plans = new Map<string, MasterPlan>();
  for (const target of targets) {
    const group = connectionGroup(target);
    const path = controlPath(dir, target);
    const dest = sshDestination(target.repo);
    if (!path || !dest || plans.has(group)) continue;
    if (dest.host.startsWith('-') || dest.user?.startsWith('-')) continue;
    plans.set(group, {
      group,
      path,
      base: sshArgv(target),
      dest: [...(dest.port ? ['-p', String(dest.port)] : []), '--', dest.user ? `${dest.user}@${dest.host}` : dest.host],
      timeoutMs: Math.min(target.gitTimeoutMs, target.ssh.connectTimeoutMs + 5000),
    });
  }
  return [...plans.values()];
}

/**
 * Runs `ssh -N` for a plan: the promise says whether the master is up. `ssh -N` with
 * ControlPersist exits 0 once the master is authenticated and has gone to the
 * background (its stdio on /dev/null).
 */
function spawnMaster(plan: MasterPlan): Promise<boolean> {
  let pgid: number | undefined;
  return run(masterArgv(plan), {
    cwd: dirname(plan.path),
    timeoutMs: plan.timeoutMs,
    env: { SSH_AUTH_SOCK: undefined, SSH_ASKPASS: '/bin/false', LC_ALL: 'C' },
    onSpawn: (pid) => (pgid = pid),
    // Two runs racing for one socket: the loser would stay a plain connection with
    // nothing to do (-N) until its timeout. The winner's master serves this run too.
    onLine: (line, stream) => {
      if (stream === 'stderr' && /already exists, disabling multiplexing/.test(line) && pgid !== undefined) {
        othersMasters.add(plan.path);
        void killGroup(pgid, 1000);
      }
    },
  }).then((r) => {
    if (r.exitCode !== 0) log.debug(`ssh master ${plan.dest.at(-1) ?? ''} not opened early (exit ${r.exitCode}): ${r.stderr.trim()}`, { step: 'ssh' });
    return r.exitCode === 0 && existsSync(plan.path);
  });
}

interface EarlyMaster {
  plan: MasterPlan;
  up: Promise<boolean>;
}

/** Masters started before the config was validated (early-connect.ts), by ControlPath, until a run adopts them. */
const early = new Map<string, EarlyMaster>();

/**
 * Starts masters from plans a validated config of the same content produced before
 * (early-connect.ts, which checks the config and every file it names first). A plan
 * whose socket already exists is left alone, as openMasters does.
 */
export function openEarlyMasters(plans: readonly MasterPlan[]): void {
  for (const plan of plans) {
    if (early.has(plan.path) || existsSync(plan.path) || !existsSync(dirname(plan.path))) continue;
    early.set(plan.path, { plan, up: spawnMaster(plan) });
  }
}

/** Closes the early masters no run adopted (the validated config did not produce them, or no run came). */
export async function closeEarlyMasters(): Promise<void> {
  const left = [...early.values()];
  early.clear();
  await Promise.all(left.map(async (m) => (await m.up.catch(() => false)) && exitMaster(m.plan.path, m.plan.base, dirname(m.plan.path))));
}

const samePlan = (a: MasterPlan, b: MasterPlan) => JSON.stringify(masterArgv(a)) === JSON.stringify(masterArgv(b)) && a.timeoutMs === b.timeoutMs;

/**
 * Starts the master of each connection group of `targets` that has none yet; the
 * promise of each group says whether its master is up. A master started early with
 * exactly this group's argv is adopted instead. Any failure only means "no early
 * master": the group's first git call then connects itself and reports what is wrong.
 */
export function openMasters(targets: readonly Target[]): Map<string, Promise<boolean>> {
  const opened = new Map<string, Promise<boolean>>();
  const current = session;
  if (!current) return opened;
  for (const plan of masterPlans(current.dir, targets)) {
    const started = early.get(plan.path);
    early.delete(plan.path);
    if (started && samePlan(started.plan, plan)) {
      current.used.set(plan.path, plan.base);
      opened.set(plan.group, started.up);
      current.opening.push(started.up);
      continue;
    }
    // An early master on this socket that the validated config would not have opened
    // is closed before this group's own master takes its place.
    let up: Promise<boolean>;
    if (started) up = replaceMaster(started, plan);
    // A socket already there (another run's master, or a stale one) is left to git's ssh,
    // which uses a live master and replaces a dead one.
    else if (existsSync(plan.path)) {
      othersMasters.add(plan.path);
      continue;
    }
    else up = spawnMaster(plan);
    current.used.set(plan.path, plan.base);
    opened.set(plan.group, up);
    current.opening.push(up);
  }
  return opened;
}

async function replaceMaster(started: EarlyMaster, plan: MasterPlan): Promise<boolean> {
  if (await started.up.catch(() => false)) await exitMaster(plan.path, started.plan.base, dirname(plan.path));
  return spawnMaster(plan);
}

async function exitMaster(path: string, base: string[], cwd: string): Promise<void> {
  if (!existsSync(path)) return;
  const result = await run([...base, '-o', `ControlPath=${path}`, '-O', 'exit', 'pollpray-mux'], {
    cwd,
    timeoutMs: 5000,
    extendEnv: false,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
  });
  if (result.exitCode !== 0) log.debug(`ssh -O exit: ${result.stderr.trim()}`, { step: 'ssh' });
}

/** Ends every master this run started (ssh -O exit), never another run's, and any early one it did not adopt, then turns multiplexing off. */
export async function closeMultiplexing(): Promise<void> {
  const current = session;
  session = undefined;
  const unadopted = closeEarlyMasters();
  if (current) {
    await Promise.allSettled(current.opening);
    const mine = [...current.used.entries()].filter(([path]) => !othersMasters.has(path));
    await Promise.all(mine.map(([path, base]) => exitMaster(path, base, current.dir)));
  }
  othersMasters.clear();
  await unadopted;
}
