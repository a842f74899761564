/**
 * The winston side of the logger: the day's file through the daily-rotate transport.
 * logger.ts imports this module only when a line at an enabled level is written, so a
 * quiet run (twenty unchanged targets at `info`) never loads winston.
 *
 * A log file that cannot be written (the log filesystem full, a quota, an I/O error)
 * never ends a run: half a deploy is worse than a missing log line. The first error
 * is reported once on stderr, naming the log dir and the fix, and the rest of the run
 * logs to stderr, where cron mail or the journal keeps it. Lines the file stream had
 * already taken when it failed are lost with it.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import type { LogSettings } from '../config/normalise.js';
import { logLine, problem, stderrDrained } from './console.js';

/** One line as logger.ts hands it over: already redacted, stamped when it was logged. */
export interface LogEntry {
  level: 'error' | 'warn' | 'info' | 'debug';
  message: string;
  fields: Record<string, unknown>;
  timestamp: string;
}

export interface FileSink {
  write(entry: LogEntry): void;
  close(): Promise<void>;
}

const textFormat = winston.format.printf((info) => {
  const { timestamp, level, message, target, commit, step, durationMs } = info as Record<string, unknown>;
  const parts = [String(timestamp), String(level).toUpperCase().padEnd(5)];
  if (target) parts.push(`[${String(target)}]`);
  if (commit) parts.push(`@${String(commit).slice(0, 12)}`);
  if (step) parts.push(`${String(step)}:`);
  // One entry, one line: a newline in the message (a path or a URL from the commit: git
  // allows one in a file name) would start a line of the pusher's choosing. Shown as ^J, as
  // the redactor shows the other control characters; the JSON format escapes it itself.
  parts.push(String(message).replace(/\n/g, '^J'));
  if (typeof durationMs === 'number') parts.push(`(${durationMs}ms)`);
  return parts.join(' ');
});

export function openFileSink(settings: LogSettings, filePrefix: string): FileSink {
  const logger = winston.createLogger({
    level: settings.level,
    // The entry carries the time it was logged at: lines queued while this module loaded keep theirs.
    format: settings.format === 'json' ? winston.format.json() : textFormat,
  });
  let transport: DailyRotateFile | undefined;
  let toStderr: winston.transport | undefined;
  let failedOnce = false;
  /** Once: one line on stderr naming the log dir and the fix, then the log goes to stderr. */
  const failed = (err: unknown): void => {
    if (failedOnce) return;
    failedOnce = true;
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    const why =
      code === 'ENOSPC'
        ? 'is full (ENOSPC)'
        : code === 'EDQUOT'
          ? 'is over its disk quota (EDQUOT)'
          : `cannot be written (${code ?? (err instanceof Error ? err.message : String(err))})`;
    problem(`log directory ${settings.dir} ${why}: logging to stderr from now on (fix: free space in ${settings.dir} or point log.dir elsewhere)`);
    if (transport) logger.remove(transport);
    transport = undefined;
    toStderr = new winston.transports.Stream({
      stream: new Writable({
        write(chunk: Buffer | string, _encoding, done) {
          logLine(chunk.toString());
          done();
        },
      }),
    });
    logger.add(toStderr);
  };
  // winston re-emits a transport's errors on the logger: unheard, either would end the process.
  logger.on('error', failed);
  try {
    transport = new DailyRotateFile({
      dirname: settings.dir,
      filename: `${filePrefix}%DATE%.log`,
      datePattern: 'YYYY-MM-DD',
      utc: true,
      zippedArchive: settings.compress,
      maxFiles: `${settings.retentionDays}d`,
      auditFile: join(settings.dir, '.audit.json'),
      createSymlink: false,
    });
    transport.on('error', failed);
    (transport as unknown as { logStream?: NodeJS.EventEmitter }).logStream?.on('error', failed);
    logger.add(transport);
  } catch (err) {
    failed(err);
  }
  return {
    write(entry) {
      // One object, never (level, message, meta): given a message with a `%s` or `%d` in it (a
      // subject, a script's printf, git's --format=%s), winston takes meta for printf arguments
      // and drops it from the entry, with the time, target and commit.
      logger.log({ ...entry.fields, timestamp: entry.timestamp, level: entry.level, message: entry.message });
    },
    /**
     * The logger's 'finish' only means every line reached the transport; the file stream
     * behind it is ended separately, or the last lines of a short run (a lock-busy skip)
     * would be lost at exit. Likewise the stderr transport (the logger is piped into it)
     * and stderr itself: a pipe whose reader is slow queues writes that exit would drop.
     */
    async close() {
      const file = transport;
      const stderrSink = toStderr;
      const stderrDone = stderrSink ? new Promise<void>((resolve) => stderrSink.once('finish', () => resolve())) : undefined;
      await new Promise<void>((resolve) => {
        logger.once('finish', () => resolve());
        logger.end();
      });
      // Bounded: a stuck disk or reader must not keep a finished run from exiting.
      if (stderrDone) await Promise.race([stderrDone.then(stderrDrained), new Promise<void>((resolve) => setTimeout(resolve, 5000).unref())]);
      const stream = (file as unknown as { logStream?: { end(cb: () => void): void } } | undefined)?.logStream;
      if (stream) {
        const bound = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
        await Promise.race([new Promise<void>((resolve) => stream.end(() => resolve())), bound]);
      }
    },
  };
}
