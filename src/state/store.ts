/**
 * The one place that writes state. Per target: `targets/<name>/state.json` (replaced
 * atomically: temp file, fsync, rename, fsync of the directory, so a crash leaves the
 * old or the new file, never half of one) and `targets/<name>/history.jsonl`
 * (one appended line per finished cycle that did something).
 */
import {
  appendFileSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
  existsSync,
} from 'node:fs';
import { join } from 'node:path';
import { EnvironmentError } from '../errors.js';

export type CycleResult = 'deployed' | 'unchanged' | 'failed' | 'skipped' | 'refused' | 'error';

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

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
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
    throw new EnvironmentError(`state directory ${stateDir} is not writable`, {
      target,
      hint: `create it and give it to this user (chown -R $(id -un) ${stateDir}), or set state_dir`,
      cause,
    });
  }
  return dir;
}

/** Temp file, fsync, rename, fsync of the directory: a crash leaves the old or the new file. */
function writeAtomically(dir: string, file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o640);
  try {
    writeSync(fd, `${JSON.stringify(value, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncDir(dir);
}

export function writeState(stateDir: string, state: TargetState): void {
  const dir = ensureStateDir(stateDir, state.target);
  writeAtomically(dir, statePath(stateDir, state.target), state);
}

/** How many webhook delivery ids `serve` remembers: far more than a forge ever redelivers. */
export const DELIVERIES_KEPT = 1000;

function deliveriesPath(stateDir: string): string {
  return join(stateDir, 'serve', 'deliveries.json');
}

/** Delivery ids `serve` already acted on, oldest first; a missing or corrupt file is an empty list. */
export function readDeliveries(stateDir: string): string[] {
  try {
    const parsed = JSON.parse(readFileSync(deliveriesPath(stateDir), 'utf8')) as { version?: number; ids?: unknown };
    return parsed.version === 1 && Array.isArray(parsed.ids) ? parsed.ids.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

/** Saves the newest DELIVERIES_KEPT ids, so a redelivery after a restart is still recognised. */
export function writeDeliveries(stateDir: string, ids: readonly string[]): void {
  const dir = join(stateDir, 'serve');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
  } catch (cause) {
    throw new EnvironmentError(`state directory ${stateDir} is not writable`, {
      hint: `create it and give it to this user (chown -R $(id -un) ${stateDir}), or set state_dir`,
      cause,
    });
  }
  writeAtomically(dir, deliveriesPath(stateDir), { version: 1, ids: ids.slice(-DELIVERIES_KEPT) });
}

export function appendHistory(stateDir: string, entry: HistoryEntry): void {
  ensureStateDir(stateDir, entry.target);
  appendFileSync(historyPath(stateDir, entry.target), `${JSON.stringify(entry)}\n`, { mode: 0o640 });
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
