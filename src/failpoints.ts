/**
 * Test-only failpoints, the pattern of etcd's gofail and FreeBSD's fail(9). Some
 * windows are microseconds wide (a state write between its fsync and its rename), so a
 * `kill -9` from outside lands in them only by luck. The fault suite (test/faults) sets
 * POLLPRAY_FAILPOINT=<name> in one run's environment; that run announces the point on
 * stderr and pauses there, and the test kills it at exactly that moment.
 *
 * Only the environment arms one, never the config: an operator's file must not be able
 * to make pollpray stop. The variable is read once, so unset, a failpoint costs one
 * string comparison.
 */
import { problem } from './log/console.js';

export type Failpoint =
  /** src/state/store.ts: the new state.json is written to its temp file and fsynced, not yet renamed over the old one. */
  'state-write';

const armed = process.env.POLLPRAY_FAILPOINT;

/** Long enough for a test to kill the run; short enough that a stray variable delays a cron run, never hangs it. */
const PAUSE_MS = 60_000;

/** Pauses the whole process (synchronously: nothing else may run in the window) when `name` is armed. */
export function failpoint(name: Failpoint, detail: string): void {
  if (armed !== name) return;
  problem(`failpoint ${name}: paused for ${PAUSE_MS / 1000}s (pid ${process.pid}): ${detail}`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, PAUSE_MS);
}
