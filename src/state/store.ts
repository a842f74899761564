/**
 * The one place that writes state. Per target: `targets/<name>/state.json` (replaced
 * atomically: temp file, fsync, rename, fsync of the directory, so a crash leaves the
 * old or the new file, never half of one), `targets/<name>/history.jsonl` (one
 * appended line per finished cycle that did something) and `targets/<name>/signals.json`
 * (what was notified and the deploy counters behind the metrics; a file of its own so
 * the cycle's state writes and the after-run bookkeeping never overwrite each other).
 * Every string written is redacted first: an error that quotes a token stays a secret.
 */
import {
  appendFileSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
  existsSync,
} from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { fsFault } from '../host/fs-fault.js';
import { failpoint, type Failpoint } from '../failpoints.js';
import { redactDeep } from '../log/redact.js';
import { tryLock } from './lock.js';

export type CycleResult = 'deployed' | 'unchanged' | 'failed' | 'skipped' | 'refused' | 'error' | 'rolled-back' | 'unverified';

/** Failed attempts at one commit: the input of the retry policy (src/deploy/policy.ts). */
export interface CommitFailures {
  attempts: number;
  /** When the last failed attempt started (ISO 8601 UTC). */
  lastAttempt: string;
  lastError: string;
}

export interface TargetState {
  version: 1;
  target: string;
  branch: string;
  /** The commit the code on disk is at, as far as pollpray knows; null before the first deploy. */
  deployedSha: string | null;
  previousSha: string | null;
  /** Last remote head seen by ls-remote. */
  remoteSha: string | null;
  lastCheck: string | null;
  lastSuccess: string | null;
  lastResult: CycleResult | null;
  lastError: string | null;
  paused: boolean;
  /** Why the target is paused (e.g. "rolled back by hand to 3f2a9c1b7d0e"), null when not paused. */
  pausedReason: string | null;
  /** The last failed deploy went live and was switched back to the previous version. */
  rolledBack: boolean;
  /** Failed attempts per commit (full SHA); a success of that commit clears its entry. */
  failures: Record<string, CommitFailures>;
  /** releases: the release directory names `current` and the one before point at. */
  currentRelease: string | null;
  previousRelease: string | null;
}

export interface HistoryEntry {
  time: string;
  target: string;
  result: CycleResult;
  sha: string | null;
  previousSha: string | null;
  durationMs: number;
  subject?: string;
  error?: string;
  dryRun?: boolean;
  rolledBack?: boolean;
  release?: string;
}

export function emptyState(target: string, branch: string): TargetState {
  return {
    version: 1,
    target,
    branch,
    deployedSha: null,
    previousSha: null,
    remoteSha: null,
    lastCheck: null,
    lastSuccess: null,
    lastResult: null,
    lastError: null,
    paused: false,
    pausedReason: null,
    rolledBack: false,
    failures: {},
    currentRelease: null,
    previousRelease: null,
  };
}

export function targetDir(stateDir: string, target: string): string {
  return join(stateDir, 'targets', target);
}

function statePath(stateDir: string, target: string): string {
  return join(targetDir(stateDir, target), 'state.json');
}

function historyPath(stateDir: string, target: string): string {
  return join(targetDir(stateDir, target), 'history.jsonl');
}

export interface LoadedState {
  state: TargetState;
  /** Set when the file was unreadable and moved aside; the caller recovers from disk. */
  movedAside?: string;
}

function isTargetState(value: unknown): value is TargetState {
  const v = value as Partial<TargetState> | null;
  return !!v && typeof v === 'object' && v.version === 1 && typeof v.target === 'string';
}

export function readState(
  stateDir: string,
  target: string,
  branch: string,
  options: { readOnly?: boolean } = {},
): LoadedState {
  const file = statePath(stateDir, target);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: emptyState(target, branch) };
    throw new EnvironmentError(`cannot read state file ${file}`, {
      target,
      hint: `make ${stateDir} readable and writable by this user`,
      cause: err,
    });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (isTargetState(parsed)) return { state: { ...emptyState(target, branch), ...parsed, branch } };
  } catch {
    // fall through: corrupt
  }
  if (options.readOnly) return { state: { ...emptyState(target, branch), lastError: `state file ${file} is corrupt` } };
  const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '')}`;
  renameSync(file, aside);
  return { state: emptyState(target, branch), movedAside: aside };
}

/** fsync of a file or directory: after a rename, the directory's fsync makes it durable. */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function ensureStateDir(stateDir: string, target: string): string {
  const dir = targetDir(stateDir, target);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
  } catch (cause) {
    // Read-only, full, or another user's: the reason and the directory to fix, named by its key.
    const fault = fsFault(cause, target);
    if (fault) throw new EnvironmentError(`state directory ${stateDir} is not usable: ${fault.message}`, fault.options());
    throw new EnvironmentError(`state directory ${stateDir} is not writable`, {
      target,
      hint: `create it and give it to this user (chown -R $(id -un) ${stateDir}), or set state_dir`,
      cause,
    });
  }
  return dir;
}

/**
 * Replaces `file` atomically: a temp file in the same directory (so rename stays on
 * one filesystem), fsync, rename, fsync of the directory. Readers see the old or the
 * new content, never a part. The temp name keeps the file's extension off its end, so
 * a reader that globs `*.prom` (node_exporter) never picks it up. A temp file is never
 * read as the file: one left by a writer killed before its rename is removed here, on
 * the next write, and one from a write that failed (ENOSPC) is removed at once.
 */
export function writeFileAtomic(file: string, content: string, mode = 0o640, pause?: Failpoint): void {
  const dir = dirname(file);
  const prefix = `.${basename(file)}.tmp-`;
  removeAbandonedTemps(dir, prefix);
  const tmp = join(dir, `${prefix}${process.pid}`);
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (pause) failpoint(pause, `${tmp} is written and fsynced, not yet renamed over ${file}`);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncPath(dir);
}

/**
 * writeFileAtomic without holding the event loop: the same steps, on libuv's threads.
 * An unchanged check writes its state this way, so twenty targets' fsyncs overlap each
 * other and the git calls in flight instead of queueing on the main thread. The
 * failpoint still pauses the whole process, synchronously, at the same point.
 */
export async function writeFileAtomicAsync(file: string, content: string, mode = 0o640, pause?: Failpoint): Promise<void> {
  const dir = dirname(file);
  const prefix = `.${basename(file)}.tmp-`;
  removeAbandonedTemps(dir, prefix);
  const tmp = join(dir, `${prefix}${process.pid}`);
  try {
    const handle = await open(tmp, 'w', mode);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (pause) failpoint(pause, `${tmp} is written and fsynced, not yet renamed over ${file}`);
    await rename(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/**
 * Temp files whose writer is gone (the PID is in the name). A live writer's temp is
 * left alone: the metrics file, for one, is written by overlapping runs without a lock.
 */
export function removeAbandonedTemps(dir: string, prefix: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // the write itself reports a missing or unreadable directory
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processExists(pid)) rmSync(join(dir, name), { force: true });
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export function writeState(stateDir: string, state: TargetState): void {
  ensureStateDir(stateDir, state.target);
  writeFileAtomic(statePath(stateDir, state.target), `${JSON.stringify(redactDeep(state), null, 2)}\n`, 0o640, 'state-write');
}

/** writeState off the main thread (see writeFileAtomicAsync). */
export async function writeStateAsync(stateDir: string, state: TargetState): Promise<void> {
  ensureStateDir(stateDir, state.target);
  await writeFileAtomicAsync(statePath(stateDir, state.target), `${JSON.stringify(redactDeep(state), null, 2)}\n`, 0o640, 'state-write');
}

/** How many webhook deliveries `serve` remembers: far more than a forge ever redelivers. */
export const DELIVERIES_KEPT = 1000;

function deliveriesPath(stateDir: string): string {
  return join(stateDir, 'serve', 'deliveries.json');
}

/**
 * The deliveries `serve` already acted on, checked by the caller's `valid` (the file is
 * data an attacker may have shaped: ids and digests are re-validated, never trusted).
 * Missing: undefined. Unreadable JSON or failing `valid`: moved aside as
 * `deliveries.json.corrupt-<time>` and undefined, so it is neither trusted nor lost.
 */
export function readDeliveries<T>(stateDir: string, valid: (value: unknown) => T | undefined): { records?: T; movedAside?: string } {
  const file = deliveriesPath(stateDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new EnvironmentError(`cannot read ${file}`, { hint: `make ${stateDir} readable and writable by this user`, cause: err });
  }
  try {
    const records = valid(JSON.parse(text));
    if (records !== undefined) return { records };
  } catch {
    // fall through: corrupt
  }
  const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '')}`;
  renameSync(file, aside);
  return { movedAside: aside };
}

/** Saves the delivery memory, so a redelivery or replay after a restart is still recognised. */
export function writeDeliveries(stateDir: string, records: unknown): void {
  const dir = join(stateDir, 'serve');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
  } catch (cause) {
    throw new EnvironmentError(`state directory ${stateDir} is not writable`, {
      hint: `create it and give it to this user (chown -R $(id -un) ${stateDir}), or set state_dir`,
      cause,
    });
  }
  writeFileAtomic(deliveriesPath(stateDir), `${JSON.stringify(records, null, 2)}\n`);
}

export function appendHistory(stateDir: string, entry: HistoryEntry): void {
  ensureStateDir(stateDir, entry.target);
  appendFileSync(historyPath(stateDir, entry.target), `${JSON.stringify(redactDeep(entry))}\n`, { mode: 0o640 });
}

/** A problem that was notified and not yet followed by a recovery (see src/notify/events.ts). */
export interface OpenProblem {
  event: string;
  sha: string | null;
}

export interface TargetSignals {
  version: 1;
  target: string;
  openProblem: OpenProblem | null;
  /** Deploy attempts by result, across runs: the metrics counter must never go down. */
  deploys: Record<string, number>;
  lastDeployDurationMs: number | null;
  /** When the outcome recorded last finished (ms since epoch): an older one from an overlapping run is not applied. */
  updatedAt: number;
}

function signalsPath(stateDir: string, target: string): string {
  return join(targetDir(stateDir, target), 'signals.json');
}

export function readSignals(stateDir: string, target: string): TargetSignals {
  const empty: TargetSignals = { version: 1, target, openProblem: null, deploys: {}, lastDeployDurationMs: null, updatedAt: 0 };
  try {
    const parsed = JSON.parse(readFileSync(signalsPath(stateDir, target), 'utf8')) as Partial<TargetSignals> | null;
    if (parsed && parsed.version === 1) return { ...empty, ...parsed, target };
  } catch {
    // absent or torn: counters restart from zero, which Prometheus reads as a counter reset
  }
  return empty;
}

/** Off the main thread (writeFileAtomicAsync): a run records all its targets' outcomes at once. */
async function writeSignals(stateDir: string, signals: TargetSignals): Promise<void> {
  ensureStateDir(stateDir, signals.target);
  await writeFileAtomicAsync(signalsPath(stateDir, signals.target), `${JSON.stringify(redactDeep(signals), null, 2)}\n`);
}

/**
 * Read-modify-write of a target's signals under a lock of their own (not the target's:
 * the next run's cycle may already hold that), so two overlapping runs cannot lose a
 * count. Waits a little for the other run; gives up with an EnvironmentError.
 */
export async function updateSignals<T>(
  stateDir: string,
  target: string,
  change: (signals: TargetSignals) => { signals: TargetSignals; value: T },
  waitMs = 5000,
): Promise<T> {
  const deadline = Date.now() + waitMs;
  let lock = await tryLock(stateDir, `${target}#signals`);
  while (!lock && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    lock = await tryLock(stateDir, `${target}#signals`);
  }
  if (!lock) {
    throw new EnvironmentError('notification and metrics bookkeeping is busy in another run', {
      target,
      hint: 'another pollpray run is finishing this target; its run records the outcome',
    });
  }
  try {
    const { signals, value } = change(readSignals(stateDir, target));
    await writeSignals(stateDir, signals);
    return value;
  } finally {
    await lock.release();
  }
}

/** History lines of one target, oldest first; a torn last line (crash mid-append) is skipped. */
export function readHistory(stateDir: string, target: string): HistoryEntry[] {
  const file = historyPath(stateDir, target);
  if (!existsSync(file)) return [];
  const entries: HistoryEntry[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      entries.push(JSON.parse(line) as HistoryEntry);
    } catch {
      // a line cut by a crash; the rest stays readable
    }
  }
  return entries;
}
