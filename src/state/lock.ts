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
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:net';
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
export function tryLock(stateDir: string, target: string): Promise<Lock | undefined> {
  return tryLockNamed(lockName(stateDir, target));
}

/**
 * The lock on a deploy path, whichever config or state dir names it, so two configs that
 * name one path never work in it at once. Keyed by where the path really leads (a link
 * to it, or a path not made yet, locks the same place).
 */
export function tryPathLock(path: string): Promise<Lock | undefined> {
  return tryLockNamed(nameFor(`path\0${realLocation(path)}`));
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
