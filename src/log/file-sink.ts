/**
 * The winston side of the logger: the day's file through the daily-rotate transport.
 * logger.ts imports this module only when a line at an enabled level is written, so a
 * quiet run (twenty unchanged targets at `info`) never loads winston.
 */
import { join } from 'node:path';
import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import type { LogSettings } from '../config/normalise.js';

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
  parts.push(String(message));
  if (typeof durationMs === 'number') parts.push(`(${durationMs}ms)`);
  return parts.join(' ');
});

export function openFileSink(settings: LogSettings, filePrefix: string): FileSink {
  const transport = new DailyRotateFile({
    dirname: settings.dir,
    filename: `${filePrefix}%DATE%.log`,
    datePattern: 'YYYY-MM-DD',
    utc: true,
    zippedArchive: settings.compress,
    maxFiles: `${settings.retentionDays}d`,
    auditFile: join(settings.dir, '.audit.json'),
    createSymlink: false,
  });
  const logger = winston.createLogger({
    level: settings.level,
    // The entry carries the time it was logged at: lines queued while this module loaded keep theirs.
    format: settings.format === 'json' ? winston.format.json() : textFormat,
    transports: [transport],
  });
  return {
    write(entry) {
      logger.log(entry.level, entry.message, { ...entry.fields, timestamp: entry.timestamp });
    },
    /**
     * The logger's 'finish' only means every line reached the transport; the file stream
     * behind it is ended separately, or the last lines of a short run (a lock-busy skip)
     * would be lost at exit.
     */
    async close() {
      await new Promise<void>((resolve) => {
        logger.once('finish', () => resolve());
        logger.end();
      });
      const stream = (transport as unknown as { logStream?: { end(cb: () => void): void } }).logStream;
      if (stream) {
        // Bounded: a stuck disk must not keep a finished run from exiting.
        const bound = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
        await Promise.race([new Promise<void>((resolve) => stream.end(() => resolve())), bound]);
      }
    },
  };
}
