/**
 * The one place that writes state. Per target: `targets/<name>/state.json` (replaced
 * atomically: temp file, fsync, rename, fsync of the directory, so a crash leaves the
 * old or the new file, never half of one), `targets/<name>/history.jsonl` (one
 * appended line per finished cycle that did something) and `targets/<name>/signals.json`
 * (what was notified and the deploy counters behind the metrics; a file of its own so
 * the cycle's state writes and the after-run bookkeeping never overwrite each other).
 * Every string written is redacted first: an error that quotes a token stays a secret.
 *
 * Every file read back is checked against its schema (records.ts): one that does not
 * match is moved aside as `<file>.corrupt-<time>` with one warn line, and the run goes
 * on as from an empty file. The target a file belongs to is the directory it was read
 * from (the config's name), never a field inside it. history.jsonl is read from its
 * end, only as many lines as asked for, and rotated to history.jsonl.1 past
 * HISTORY_ROTATE_BYTES, so neither reading nor the file grows without bound.
 */
import {
  appendFileSync,
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { z } from 'zod';
import { EnvironmentError } from '../errors.js';
import { fsFault } from '../host/fs-fault.js';
import { failpoint, type Failpoint } from '../failpoints.js';
import { log } from '../log/logger.js';
import { redactDeep } from '../log/redact.js';
import { foreignLockError, tryLock } from './lock.js';
import {
  firstIssue,
  historyEntrySchema,
  storedSignalsSchema,
  storedStateSchema,
  type HistoryEntry,
  type TargetSignals,
  type TargetState,
} from './records.js';

export type { CommitFailures, CycleResult, HistoryEntry, OpenProblem, TargetSignals, TargetState } from './records.js';

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
    lastFault: null,
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
  /** Set when the file was unreadable or invalid and moved aside; the caller recovers from disk. */
  movedAside?: string;
  /** Why it was moved aside, for the caller's warn line. */
  why?: string;
}

/**
 * A file read back as data, parsed and checked: its value, or why it is not one.
 * `parse` errors and schema mismatches are the same to the caller: not usable.
 */
function parseRecord<T>(text: string, schema: z.ZodType<T>): { ok: true; value: T } | { ok: false; why: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, why: 'is not JSON (torn or truncated)' };
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, why: `does not match its schema (${firstIssue(parsed.error)})` };
}

/** `<file>.corrupt-<time>`: kept for a look, never read again. */
function moveAside(file: string): string {
  const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '')}`;
  renameSync(file, aside);
  return aside;
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
  const stored = parseRecord(text, storedStateSchema);
  // Every field present was checked; a field an older version did not write takes its
  // default. The file's own target and branch are not trusted: a renamed target's state
  // stays where it is read from.
  if (stored.ok) return { state: { ...emptyState(target, branch), ...stored.value, target, branch } };
  const why = stored.why;
  if (options.readOnly) return { state: { ...emptyState(target, branch), lastError: `state file ${file} is corrupt: it ${why}` } };
  return { state: emptyState(target, branch), movedAside: moveAside(file), why };
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
/**
 * The temp's name is predictable, so it is only ever created afresh: whatever was planted
 * there (by whoever could write the directory) is removed and the open tried once more,
 * never written through. O_EXCL refuses a symbolic link, a hard link to another file and a
 * file someone else made (theirs, with their mode) alike; O_NOFOLLOW says so as well.
 */
const TEMP_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const planted = (err: unknown) => ['EEXIST', 'ELOOP'].includes((err as NodeJS.ErrnoException).code ?? '');

function openTemp(tmp: string, mode: number): number {
  try {
    return openSync(tmp, TEMP_FLAGS, mode);
  } catch (err) {
    if (!planted(err)) throw err;
    rmSync(tmp, { force: true });
    return openSync(tmp, TEMP_FLAGS, mode);
  }
}

async function openTempAsync(tmp: string, mode: number) {
  try {
    return await open(tmp, TEMP_FLAGS, mode);
  } catch (err) {
    if (!planted(err)) throw err;
    rmSync(tmp, { force: true });
    return open(tmp, TEMP_FLAGS, mode);
  }
}

export function writeFileAtomic(file: string, content: string, mode = 0o640, pause?: Failpoint): void {
  const dir = dirname(file);
  const prefix = `.${basename(file)}.tmp-`;
  removeAbandonedTemps(dir, prefix);
  const tmp = join(dir, `${prefix}${process.pid}`);
  try {
    const fd = openTemp(tmp, mode);
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
    const handle = await openTempAsync(tmp, mode);
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
 * left alone (this process's own included): the metrics file, for one, is written by
 * overlapping runs without a lock.
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
    if (Number.isInteger(pid) && pid > 0 && !processExists(pid)) rmSync(join(dir, name), { force: true });
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
  return { movedAside: moveAside(file) };
}

/**
 * A small record file: its value; undefined when it is absent, or when it is invalid,
 * in which case it is moved aside with one warn line and the caller starts from empty.
 */
function readRecordFile<T>(file: string, schema: z.ZodType<T>, step: string, options: { readOnly?: boolean; target?: string } = {}): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EnvironmentError(`cannot read ${file}`, { target: options.target, hint: 'make the state dir readable and writable by this user', cause: err });
  }
  const parsed = parseRecord(text, schema);
  if (parsed.ok) return parsed.value;
  if (!options.readOnly) {
    const aside = moveAside(file);
    log.warn(`${file} ${parsed.why}: moved aside to ${aside}; starting from empty`, { target: options.target, step });
  }
  return undefined;
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

/**
 * Past this size history.jsonl becomes history.jsonl.1 (replacing the one before) and a
 * new file starts: at most twice this on disk per target, some 25 000 entries in all.
 */
export const HISTORY_ROTATE_BYTES = 4 * 1024 * 1024;

/** Callers hold the target's lock, so the rotation and the append are one writer's. */
export function appendHistory(stateDir: string, entry: HistoryEntry): void {
  ensureStateDir(stateDir, entry.target);
  const file = historyPath(stateDir, entry.target);
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {
    // no history yet
  }
  if (size >= HISTORY_ROTATE_BYTES) renameSync(file, `${file}.1`);
  appendFileSync(file, `${JSON.stringify(redactDeep(entry))}\n`, { mode: 0o640 });
}

function signalsPath(stateDir: string, target: string): string {
  return join(targetDir(stateDir, target), 'signals.json');
}

/**
 * Absent or invalid: counters restart from zero, which Prometheus reads as a counter
 * reset. An invalid file is moved aside unless `readOnly` (the metrics writer, which
 * holds no lock).
 */
export function readSignals(stateDir: string, target: string, options: { readOnly?: boolean } = {}): TargetSignals {
  const empty: TargetSignals = { version: 1, target, openProblem: null, deploys: {}, lastDeployDurationMs: null, updatedAt: 0 };
  const file = signalsPath(stateDir, target);
  const stored = readRecordFile(file, storedSignalsSchema, 'signals', { ...options, target });
  return { ...empty, ...stored, target };
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
  const key = `${target}#signals`;
  // Polled without a look into /proc each time: another run lets go within the wait.
  let lock = await tryLock(stateDir, key, { askHolder: false });
  while (!lock && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    lock = await tryLock(stateDir, key, { askHolder: false });
  }
  if (!lock) {
    // Any local user can bind the name (an abstract socket): one who does is named, never
    // passed off as another run.
    const foreign = foreignLockError(stateDir, key, target, "this target's outcomes are not recorded for notifications and metrics while it is held");
    if (foreign) throw foreign;
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

/** How many entries `history` shows when not told (-n). */
export const HISTORY_DEFAULT_LIMIT = 1000;
/** Bytes read from the end of one history file at most, whatever it holds: bounds time and memory. */
const HISTORY_READ_BUDGET = 16 * 1024 * 1024;
/** A longer line is not one pollpray wrote: skipped without being held in memory. */
const HISTORY_MAX_LINE = 1024 * 1024;
const CHUNK = 64 * 1024;

/**
 * The newest `limit` valid history entries of one target, oldest first. Read from the
 * end of history.jsonl (then history.jsonl.1) in 64 KiB chunks, only as far as needed
 * and never past HISTORY_READ_BUDGET per file: a history of any size costs the same.
 * A line that is not a valid entry (a torn last line, garbage) is skipped. Each entry
 * names the target it was read for.
 */
export function readHistory(stateDir: string, target: string, limit = HISTORY_DEFAULT_LIMIT): HistoryEntry[] {
  const file = historyPath(stateDir, target);
  const newestFirst: HistoryEntry[] = [];
  let skipped = 0;
  for (const f of [file, `${file}.1`]) {
    if (newestFirst.length >= limit) break;
    readLinesBackward(f, HISTORY_READ_BUDGET, HISTORY_MAX_LINE, (line) => {
      const parsed = parseRecord(line, historyEntrySchema);
      if (parsed.ok) newestFirst.push({ ...parsed.value, target });
      else skipped++;
      return newestFirst.length < limit;
    });
  }
  if (skipped > 0) log.debug(`${skipped} line(s) of ${file} are not valid history entries; skipped`, { target, step: 'history' });
  return newestFirst.reverse();
}

/**
 * Calls `visit` with each non-empty line of `file`, last line first, until it returns
 * false, the start of the file, or `budget` bytes read. A line longer than `maxLine`
 * is skipped (with `visit` never seeing it). A missing file has no lines.
 */
export function readLinesBackward(file: string, budget: number, maxLine: number, visit: (line: string) => boolean): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    const chunk = Buffer.alloc(CHUNK);
    let pos = size;
    /** The start of the line that continues past the chunk read last (it ends where `carry` ends). */
    let carry = Buffer.alloc(0);
    /** The line being read is longer than maxLine: drop it up to its start. */
    let overlong = false;
    const emit = (bytes: Buffer): boolean => (bytes.length === 0 ? true : visit(bytes.toString('utf8')));
    while (pos > 0 && size - pos < budget) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      readSync(fd, chunk, 0, len, pos);
      let end = len;
      for (let i = len - 1; i >= 0; i--) {
        if (chunk[i] !== 0x0a) continue;
        // The carried start of a line can be just under maxLine and its rest in this chunk.
        const going = overlong || end - (i + 1) + carry.length > maxLine ? true : emit(Buffer.concat([chunk.subarray(i + 1, end), carry]));
        overlong = false;
        carry = Buffer.alloc(0);
        end = i;
        if (!going) return;
      }
      if (!overlong) {
        carry = Buffer.concat([chunk.subarray(0, end), carry]);
        if (carry.length > maxLine) {
          carry = Buffer.alloc(0);
          overlong = true;
        }
      }
    }
    if (pos === 0 && !overlong) emit(carry);
  } finally {
    closeSync(fd);
  }
}
