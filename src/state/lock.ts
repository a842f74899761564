/**
 * Per-target lock that dies with its process.
 *
 * It is a listening Unix socket in Linux's abstract namespace: the kernel owns the
 * name and releases it the instant the holder exits, including on `kill -9` or an
 * OOM kill, so there is never a stale lock to clean up (and no `unlock` command).
 * libuv opens sockets close-on-exec, so a deploy script's background child cannot
 * inherit and keep the lock. The name is derived from the state directory and the
 * target, so two installs with different state dirs do not block each other; the
 * path lock, derived from where a target's path really leads, is what they share.
 * Limitation: abstract sockets are per network namespace; runs that must exclude
 * each other have to share one (the examples' units do not set PrivateNetwork).
 *
 * The abstract namespace has no permissions: any local user can bind a lock's name and
 * so keep every run from a target. A lock found held is therefore looked up in /proc:
 * held by a process of this user, root or the state dir's owner, it is another run's;
 * held by anyone else (or by no process this user can see), it is refused as an error
 * naming the holder, never skipped in silence.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { EnvironmentError } from '../errors.js';
import { realLocation } from '../real-location.js';

export interface Lock {
  release(): Promise<void>;
}

export function lockName(stateDir: string, target: string): string {
  return nameFor(`${stateDir}\0${target}`);
}

function nameFor(key: string): string {
  const digest = createHash('sha256').update(key).digest('hex').slice(0, 32);
  return `\0pollpray-${digest}`;
}

/** Takes the lock without waiting; returns undefined when another process holds it. */
export function tryLock(stateDir: string, target: string, options: { askHolder?: boolean } = {}): Promise<Lock | undefined> {
  // `askHolder: false` for a lock polled in a loop, which asks foreignLockError once its wait is over.
  if (options.askHolder === false) return tryLockNamed(lockName(stateDir, target));
  return tryLockChecked(lockName(stateDir, target), target, stateDir);
}

/**
 * The lock on a deploy path, whichever config or state dir names it, so two configs that
 * name one path never work in it at once. Keyed by where the path really leads (a link
 * to it, or a path not made yet, locks the same place).
 */
export function tryPathLock(path: string, target?: string): Promise<Lock | undefined> {
  return tryLockChecked(nameFor(`path\0${realLocation(path)}`), target);
}

/**
 * tryLockNamed, and when the name is taken, who holds it: another run (undefined, as
 * before) or a process of someone pollpray does not trust (an EnvironmentError naming it).
 */
async function tryLockChecked(name: string, target?: string, stateDir?: string): Promise<Lock | undefined> {
  const lock = await tryLockNamed(name);
  if (lock) return lock;
  const holder = foreignHolder(name, stateDir);
  if (holder === undefined) return undefined;
  // The holder may have just ended (its socket gone with it): one more try before saying so.
  const again = await tryLockNamed(name);
  if (again) return again;
  const now = foreignHolder(name, stateDir);
  if (now === undefined) return undefined;
  throw heldError(name, now, target, 'no run can work on this target while it is held');
}

/**
 * For a lock a caller polls (the signals lock): once its wait is over, an error naming the
 * holder when that is not a pollpray run, or undefined when it is one (or the name is free).
 */
export function foreignLockError(stateDir: string, lockKey: string, target: string, blocked: string): EnvironmentError | undefined {
  const name = lockName(stateDir, lockKey);
  const holder = foreignHolder(name, stateDir);
  return holder && heldError(name, holder, target, blocked);
}

function heldError(name: string, holder: { pid?: number; uid?: number }, target: string | undefined, blocked: string): EnvironmentError {
  const socket = `@${name.slice(1)}`;
  return new EnvironmentError(
    `pollpray's lock ${socket} is held by ${holder.pid === undefined ? 'a process this user cannot see (another user\'s)' : `process ${holder.pid} of uid ${holder.uid}`}, not by a pollpray run: ${blocked}`,
    { target, hint: `find the holder with: ss -xlp | grep ${socket.slice(1)} (as root), and stop it; pollpray's own runs hold it only as root, this user or the state dir's owner` },
  );
}

/** The listening sockets bound to an abstract name, by inode, from /proc/net/unix. */
function socketInodes(name: string): Set<string> {
  const path = `@${name.slice(1)}`;
  const inodes = new Set<string>();
  let text: string;
  try {
    text = readFileSync('/proc/net/unix', 'utf8');
  } catch {
    return inodes;
  }
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // libuv binds the whole sun_path: the name is shown padded with `@` for its NUL bytes.
    if (fields[7]?.replace(/@+$/, '') === path && fields[6]) inodes.add(fields[6]);
  }
  return inodes;
}

/**
 * Undefined when the lock's holder may be trusted (or the name is free again); otherwise
 * the holding process found in /proc, or `{}` when no process this user can see holds it.
 */
function foreignHolder(name: string, stateDir?: string): { pid?: number; uid?: number } | undefined {
  const inodes = socketInodes(name);
  if (inodes.size === 0) return undefined;
  const me = process.getuid?.() ?? -1;
  const trusted = new Set([0, me]);
  if (stateDir !== undefined) {
    try {
      trusted.add(statSync(stateDir).uid);
    } catch {
      // no state dir yet: root and this user only
    }
  }
  const wanted = new Set([...inodes].map((inode) => `socket:[${inode}]`));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // gone, or another user's process this user may not look into
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      if (!wanted.has(link)) continue;
      let uid: number;
      try {
        uid = statSync(`/proc/${entry}`).uid;
      } catch {
        continue;
      }
      return trusted.has(uid) ? undefined : { pid: Number(entry), uid };
    }
  }
  return {};
}

/** One lock that holds both and releases both. */
export function bothLocks(a: Lock, b: Lock): Lock {
  return { release: async () => void (await Promise.all([a.release(), b.release()])) };
}

function tryLockNamed(name: string): Promise<Lock | undefined> {
  const server: Server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(undefined);
      else reject(err);
    });
    server.listen({ path: name, exclusive: true }, () => {
      // The lock must not keep the event loop (and so the process) alive by itself.
      server.unref();
      resolve({
        release: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
