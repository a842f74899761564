import { resolve } from 'node:path';
import type { Config } from '../config/normalise.js';
import { configureLogging, log } from '../log/logger.js';
import { cronLine, everyToCron, findLine, withLine, withoutLine } from '../schedule/crontab.js';
import { readCrontab, writeCrontab } from '../schedule/user-crontab.js';
import type { Command } from 'commander';
import { configFrom, type CliContext } from './cli-context.js';
import { UsageError } from '../errors.js';
import { out } from '../log/console.js';

export type CronAction = 'print' | 'install' | 'remove';

export interface CronOptions {
  config: Config;
  action: CronAction;
  /** --every; the config's schedule otherwise. */
  every?: string;
  /** The running node and pollpray's bin script (absolute: cron has no useful PATH). */
  node: string;
  bin: string;
}

export interface CronResult {
  action: CronAction;
  line?: string;
  /** install: the same line was already there; remove: there was none. */
  unchanged: boolean;
}

/** `pollpray cron print|install|remove`: the running user's crontab line for this config. */
export async function cron(o: CronOptions): Promise<CronResult> {
  const configFile = resolve(o.config.file);
  const line = cronLine({
    schedule: o.every ? everyToCron(o.every) : o.config.schedule,
    node: o.node,
    bin: o.bin,
    configFile,
    logDir: o.config.log.dir,
  });
  if (o.action === 'print') return { action: 'print', line, unchanged: true };
  // The line appends to <log.dir>/cron.log: a missing log dir would make every cron run fail in the shell.
  configureLogging(o.config.log);
  const current = await readCrontab();
  if (o.action === 'install') {
    if (findLine(current, configFile) === line) return { action: 'install', line, unchanged: true };
    await writeCrontab(withLine(current, line, configFile));
    log.info(`cron line installed: ${line}`, { step: 'cron' });
    return { action: 'install', line, unchanged: false };
  }
  const old = findLine(current, configFile);
  if (old === undefined) return { action: 'remove', unchanged: true };
  await writeCrontab(withoutLine(current, configFile));
  log.info(`cron line removed: ${old}`, { step: 'cron' });
  return { action: 'remove', line: old, unchanged: false };
}

export function defineCommands(program: Command, _cli: CliContext): void {
  program
    .command('cron')
    .description("print, install or remove pollpray's line in your crontab (idempotent)")
    .argument('<action>', 'print | install | remove')
    .option('--every <duration>', 'how often, e.g. 5m or 1h (default: schedule: from the config)')
    .action(async (action: string, opts: { every?: string }, cmd: Command) => {
      if (!['print', 'install', 'remove'].includes(action)) {
        throw new UsageError(`unknown cron action "${action}"`, { hint: 'use pollpray cron print, install or remove' });
      }
      const result = await cron({
        config: await configFrom(cmd, 'report'),
        action: action as CronAction,
        every: opts.every,
        node: process.execPath,
        bin: resolve(process.argv[1] ?? 'pollpray'),
      });
      if (result.action === 'print') out(result.line ?? '');
      else if (result.action === 'install') out(result.unchanged ? `already installed: ${result.line}` : `installed: ${result.line}`);
      else out(result.unchanged ? 'no pollpray line for this config in your crontab' : `removed: ${result.line}`);
    });
}
