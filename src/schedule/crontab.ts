/**
 * pollpray's line in a user's crontab, as pure text functions (the reading and
 * writing is in commands/cron.ts). A marker comment naming the config file identifies
 * the line, so installing twice replaces it, and the user's other lines stay as they are.
 *
 * The line's output: stdout is appended to `<log.dir>/cron.log` (a healthy `run`
 * prints nothing there anyway; pollpray's real log is its daily file), stderr is left
 * to cron, which mails it: that is exactly pollpray's one-line-per-problem output, plus
 * anything that stopped pollpray from starting at all (node missing, a crash).
 */
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { parseDuration } from '../duration.js';
import { shellQuote } from '../git/ssh.js';

export const MARKER_PREFIX = '# pollpray-managed:';

/** cron has no seconds field, and 7 minutes is not a divisor of an hour: refuse what cron cannot say evenly. */
export function everyToCron(every: string): string {
  const ms = parseDuration(every);
  if (ms === undefined) throw new UsageError(`--every ${every} is not a duration`, { hint: 'use minutes or hours, e.g. --every 5m or --every 1h' });
  const minutes = ms / 60_000;
  if (Number.isInteger(minutes) && minutes >= 1 && minutes < 60 && 60 % minutes === 0) {
    return minutes === 1 ? '* * * * *' : `*/${minutes} * * * *`;
  }
  const hours = ms / 3_600_000;
  if (Number.isInteger(hours) && hours >= 1 && hours <= 24 && 24 % hours === 0) {
    return hours === 24 ? '0 0 * * *' : hours === 1 ? '0 * * * *' : `0 */${hours} * * *`;
  }
  throw new UsageError(`--every ${every} cannot be written as a cron schedule`, {
    hint: 'use a divisor of an hour (1m, 2m, 5m, 10m, 15m, 30m) or of a day (1h, 2h, 6h, 12h, 24h), or set schedule: in the config',
  });
}

/** A crontab schedule: five fields (node-cron's optional seconds field means nothing to cron). */
export function crontabSchedule(schedule: string): string {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new UsageError(`schedule "${schedule}" has ${fields.length} fields; crontab needs 5 (it has no seconds)`, {
      hint: 'pass --every 5m, or set a five-field schedule: in the config',
    });
  }
  return fields.join(' ');
}

/** In a crontab line `%` means newline; everything else is run by /bin/sh, so words are shell-quoted. */
function cronWord(word: string): string {
  return shellQuote(word).replace(/%/g, '\\%');
}

export interface CronLineInput {
  schedule: string;
  node: string;
  bin: string;
  configFile: string;
  logDir: string;
}

export function markerFor(configFile: string): string {
  return `${MARKER_PREFIX} ${configFile.replace(/[\x00-\x1f]/g, '?')}`;
}

export function cronLine(i: CronLineInput): string {
  const command = [
    // cron's PATH is /usr/bin:/bin; git or ssh in /usr/local/bin must still be found.
    'PATH=/usr/local/bin:/usr/bin:/bin',
    cronWord(i.node),
    cronWord(i.bin),
    'run',
    '--config',
    cronWord(i.configFile),
    '>>',
    cronWord(join(i.logDir, 'cron.log')),
  ].join(' ');
  return `${crontabSchedule(i.schedule)} ${command} ${markerFor(i.configFile)}`;
}

function isOurs(line: string, configFile: string): boolean {
  return line.trimEnd().endsWith(markerFor(configFile));
}

/** The crontab with pollpray's line for this config replaced by `line` (or added at the end). */
export function withLine(crontab: string, line: string, configFile: string): string {
  return `${withoutLine(crontab, configFile)}${line}\n`;
}

export function withoutLine(crontab: string, configFile: string): string {
  const kept = crontab.split('\n').filter((l) => !isOurs(l, configFile));
  const text = kept.join('\n').replace(/\n+$/, '');
  return text ? `${text}\n` : '';
}

export function findLine(crontab: string, configFile: string): string | undefined {
  return crontab.split('\n').find((l) => isOurs(l, configFile));
}

/** Any pollpray line at all (doctor: "something runs pollpray unattended"). */
export function anyPollprayLine(crontab: string): string | undefined {
  return crontab.split('\n').find((l) => l.includes(MARKER_PREFIX) || /^[^#]*\bpollpray(\.js)?\b.*\brun\b/.test(l));
}
