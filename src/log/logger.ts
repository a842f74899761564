/**
 * The one place that logs. Files: one per day in log.dir (`pollpray-YYYY-MM-DD.log`),
 * gzipped when rotated, removed past log.retention. Everything is redacted first.
 * Until configureLogging() runs (e.g. during config loading) messages go nowhere, so
 * an invalid config never creates log directories.
 *
 * A log file that cannot be written (the log filesystem full, a quota, an I/O error)
 * never ends a run: half a deploy is worse than a missing log line. The first error
 * is reported once on stderr, naming the log dir and the fix, and the rest of the run
 * logs to stderr, where cron mail or the journal keeps it.
 */
import { accessSync, constants, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import { EnvironmentError } from '../errors.js';
import { fsFault } from '../host/fs-fault.js';
import { keyOfPath, nearestExisting } from '../host/path-keys.js';
import type { LogSettings } from '../config/normalise.js';
import { redact, redactDeep } from './redact.js';
import { registerLogExitHooks } from './exit-hooks.js';
import { logLine, problem, stderrDrained } from './console.js';

export type Level = 'error' | 'warn' | 'info' | 'debug';
export interface LogFields {
  target?: string;
  commit?: string;
  step?: string;
  durationMs?: number;
  [key: string]: unknown;
}

let fileLogger: winston.Logger | undefined;
let fileTransport: DailyRotateFile | undefined;
/** Set once the day's file failed: the logger then writes to stderr, through this transport. */
let sinkFailed = false;
let stderrTransport: NodeJS.EventEmitter | undefined;

export const LOG_FILE_PREFIX = 'pollpray-';
const LOG_FILE = /^pollpray-(\d{4}-\d{2}-\d{2})\.log(?:\.gz)?$/;

const textFormat = winston.format.printf((info) => {
  const { timestamp, level, message, target, commit, step, durationMs } = info as Record<string, unknown>;
  const parts = [String(timestamp), String(level).toUpperCase().padEnd(5)];
  if (target) parts.push(`[${String(target)}]`);
  if (commit) parts.push(`@${String(commit).slice(0, 12)}`);
  if (step) parts.push(`${String(step)}:`);
  parts.push(String(message));
  if (typeof durationMs === 'number') parts.push(`(${durationMs}ms)`);
  return parts.join(' ');
});

/** Opens the day's log file; throws EnvironmentError when the directory is unusable. */
export function configureLogging(settings: LogSettings, now: Date = new Date()): void {
  try {
    mkdirSync(settings.dir, { recursive: true, mode: 0o750 });
    accessSync(settings.dir, constants.W_OK);
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
  sinkFailed = false;
  const logger = winston.createLogger({
    level: settings.level,
    format: winston.format.combine(
      winston.format.timestamp(),
      settings.format === 'json' ? winston.format.json() : textFormat,
    ),
  });
  fileLogger = logger;
  const failed = (err: unknown) => fileFailed(logger, settings.dir, err);
  // winston re-emits a transport's errors on the logger: unheard, either would end the process.
  logger.on('error', failed);
  try {
    const transport = new DailyRotateFile({
      dirname: settings.dir,
      filename: `${LOG_FILE_PREFIX}%DATE%.log`,
      datePattern: 'YYYY-MM-DD',
      utc: true,
      zippedArchive: settings.compress,
      maxFiles: `${settings.retentionDays}d`,
      auditFile: join(settings.dir, '.audit.json'),
      createSymlink: false,
    });
    transport.on('error', failed);
    (transport as unknown as { logStream?: NodeJS.EventEmitter }).logStream?.on('error', failed);
    fileTransport = transport;
    logger.add(transport);
  } catch (err) {
    failed(err);
  }
}

/** Once: one line on stderr naming the log dir and the fix, then the log goes to stderr. */
function fileFailed(logger: winston.Logger, dir: string, err: unknown): void {
  if (sinkFailed || logger !== fileLogger) return;
  sinkFailed = true;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why =
    code === 'ENOSPC'
      ? 'is full (ENOSPC)'
      : code === 'EDQUOT'
        ? 'is over its disk quota (EDQUOT)'
        : `cannot be written (${code ?? (err instanceof Error ? err.message : String(err))})`;
  problem(`log directory ${dir} ${why}: logging to stderr from now on (fix: free space in ${dir} or point log.dir elsewhere)`);
  if (fileTransport) logger.remove(fileTransport);
  fileTransport = undefined;
  const transport = new winston.transports.Stream({
    stream: new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        logLine(chunk.toString());
        done();
      },
    }),
  });
  stderrTransport = transport;
  logger.add(transport);
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

/**
 * Flushes the day's file before the process exits. The logger's 'finish' only means
 * every line reached the transport; the file stream behind it is ended separately,
 * or the last lines of a short run (a lock-busy skip) would be lost at exit.
 */
export async function closeLogging(): Promise<void> {
  const logger = fileLogger;
  const transport = fileTransport;
  const toStderr = stderrTransport;
  fileLogger = undefined;
  fileTransport = undefined;
  stderrTransport = undefined;
  if (!logger) return;
  // The logger's 'finish' comes before its transports have written everything it passed
  // on: the stderr transport ends (the logger is piped into it) once it has.
  const stderrDone = toStderr ? new Promise<void>((resolve) => toStderr.once('finish', () => resolve())) : undefined;
  await new Promise<void>((resolve) => {
    logger.once('finish', () => resolve());
    logger.end();
  });
  // Bounded: a stuck reader must not keep a finished run from exiting.
  if (stderrDone) await Promise.race([stderrDone.then(stderrDrained), new Promise<void>((resolve) => setTimeout(resolve, 5000).unref())]);
  const stream = (transport as unknown as { logStream?: { end(cb: () => void): void } } | undefined)?.logStream;
  if (stream) {
    // Bounded: a stuck disk must not keep a finished run from exiting.
    const bound = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
    await Promise.race([new Promise<void>((resolve) => stream.end(() => resolve())), bound]);
  }
}

function write(level: Level, message: string, fields: LogFields = {}): void {
  // Before configureLogging (or after close) there is no sink: skip the redaction too.
  if (!fileLogger) return;
  // Fields are written as-is by the JSON format, so they are redacted too.
  fileLogger.log(level, redact(message), redactDeep(fields));
}

export const log = {
  error: (message: string, fields?: LogFields) => write('error', message, fields),
  warn: (message: string, fields?: LogFields) => write('warn', message, fields),
  info: (message: string, fields?: LogFields) => write('info', message, fields),
  debug: (message: string, fields?: LogFields) => write('debug', message, fields),
};

registerLogExitHooks({ flush: closeLogging, fatal: (line) => log.error(line) });
