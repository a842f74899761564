/**
 * The one place that logs. Files: one per day in log.dir (`pollpray-YYYY-MM-DD.log`),
 * gzipped when rotated, removed past log.retention. Everything is redacted first.
 * Until configureLogging() runs (e.g. during config loading) messages go nowhere, so
 * an invalid config never creates log directories.
 *
 * winston (file-sink.ts) is loaded with the first line at an enabled level, not before:
 * an unchanged run at `info` writes no line and so never pays for it. Lines logged
 * while it loads wait in order, with the time they were logged.
 */
import { accessSync, closeSync, constants, mkdirSync, openSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { fsFault } from '../host/fs-fault.js';
import { keyOfPath, nearestExisting } from '../host/path-keys.js';
import type { LogSettings } from '../config/normalise.js';
import type { FileSink, LogEntry } from './file-sink.js';
import { redact, redactDeep } from './redact.js';
import { registerLogExitHooks } from './exit-hooks.js';

export type Level = 'error' | 'warn' | 'info' | 'debug';
export interface LogFields {
  target?: string;
  commit?: string;
  step?: string;
  durationMs?: number;
  [key: string]: unknown;
}

export const LOG_FILE_PREFIX = 'pollpray-';
const LOG_FILE = /^pollpray-(\d{4}-\d{2}-\d{2})\.log(?:\.gz)?$/;
/** winston's npm levels, the ones pollpray uses: a line is written when its rank is at most the setting's. */
const RANK: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 5 };

/** One configureLogging(): its settings, and winston once a line needed it. */
class FileLog {
  private sink: FileSink | undefined;
  private loading: Promise<void> | undefined;
  private queue: LogEntry[] = [];
  private closed = false;

  constructor(readonly settings: LogSettings) {}

  enabled(level: Level): boolean {
    return !this.closed && RANK[level] <= RANK[this.settings.level];
  }

  write(entry: LogEntry): void {
    if (this.sink) return this.sink.write(entry);
    this.queue.push(entry);
    this.loading ??= import('./file-sink.js').then(({ openFileSink }) => {
      const sink = openFileSink(this.settings, LOG_FILE_PREFIX);
      for (const queued of this.queue) sink.write(queued);
      this.queue = [];
      this.sink = sink;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.loading;
    await this.sink?.close();
  }
}

let current: FileLog | undefined;

/** Opens the day's log file; throws EnvironmentError when the directory is unusable. */
export function configureLogging(settings: LogSettings, now: Date = new Date()): void {
  try {
    mkdirSync(settings.dir, { recursive: true, mode: 0o750 });
    accessSync(settings.dir, constants.W_OK);
    // The day's file exists from the first run of the day on, lines or not, as it did
    // when winston opened it here; winston appends to it once a line is written.
    closeSync(openSync(join(settings.dir, `${LOG_FILE_PREFIX}${now.toISOString().slice(0, 10)}.log`), 'a'));
  } catch (cause) {
    // The log dir may be missing because the directory above it (often state_dir) is not
    // writable: then that directory's key is the one to fix, not log.dir.
    const blocking = nearestExisting(settings.dir);
    const owner = keyOfPath(blocking);
    const fault = blocking !== resolve(settings.dir) && owner && owner.key !== 'log.dir' ? fsFault(cause) : undefined;
    if (fault) throw new EnvironmentError(`log directory ${settings.dir} cannot be created: ${fault.message}`, fault.options());
    throw new EnvironmentError(`log directory ${settings.dir} is not writable`, {
      hint: `create it and give it to this user (chown $(id -un) ${settings.dir}), or set log.dir`,
      cause,
    });
  }
  pruneOldLogs(settings.dir, settings.retentionDays, now);
  void closeLogging();
  current = new FileLog(settings);
}

/**
 * Retention that does not depend on winston's audit file: a file written by an older
 * install, or before a config change, is still removed once it is past retention.
 */
export function pruneOldLogs(dir: string, retentionDays: number, now: Date): string[] {
  const cutoff = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - retentionDays * 86_400_000;
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const match = LOG_FILE.exec(name);
    if (!match) continue;
    const day = Date.parse(`${match[1]}T00:00:00Z`);
    if (day < cutoff) {
      rmSync(join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}

/** Flushes the day's file before the process exits (or the config is reloaded). */
export async function closeLogging(): Promise<void> {
  const log = current;
  current = undefined;
  await log?.close();
}

function write(level: Level, message: string, fields: LogFields = {}): void {
  // Before configureLogging (or after close), or below the level, there is no line: skip the redaction too.
  if (!current?.enabled(level)) return;
  // Fields are written as-is by the JSON format, so they are redacted too.
  current.write({ level, message: redact(message), fields: redactDeep(fields) as Record<string, unknown>, timestamp: new Date().toISOString() });
}

/** Whether a line at `level` would be written now: lets a caller skip building (and redacting) one that would not. */
export function logs(level: Level): boolean {
  return current?.enabled(level) ?? false;
}

export const log = {
  error: (message: string, fields?: LogFields) => write('error', message, fields),
  warn: (message: string, fields?: LogFields) => write('warn', message, fields),
  info: (message: string, fields?: LogFields) => write('info', message, fields),
  debug: (message: string, fields?: LogFields) => write('debug', message, fields),
};

registerLogExitHooks({ flush: closeLogging, fatal: (line) => log.error(line) });
