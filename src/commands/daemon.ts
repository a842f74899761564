/**
 * `pollpray daemon`: the cycle on `schedule`, in one long-lived process (for hosts
 * that prefer a service to cron). node-cron fires the ticks; a tick that comes while
 * the previous cycle still runs is dropped (noOverlap), and the per-target locks keep
 * it from overlapping a `pollpray run` started by hand or by cron as well.
 *
 * Signals: SIGTERM/SIGINT stop the schedule and let a running cycle finish within the
 * grace period (a second signal, or the end of the grace period, ends its process
 * groups instead); SIGHUP re-reads the config file and keeps the old config, saying
 * why, when the new one is invalid.
 */
import { createTask, validate as validCron, type ScheduledTask } from 'node-cron';
import type { Config } from '../config/normalise.js';
import { refuseUntrustedFiles, runningUser } from '../config/file-trust.js';
import { errorMessage, PollprayError, EXIT, UsageError } from '../errors.js';
import { killAllChildren } from '../exec/groups.js';
import { requireOwnership } from '../host/ownership.js';
import { configureLogging, log } from '../log/logger.js';
import { formatDuration, parseDuration } from '../duration.js';
import { handleSignals, type Signal } from '../signals.js';
import { run, type RunReport } from './run.js';
import type { Command } from 'commander';
import { configFileFrom, type CliContext } from './cli-context.js';
import { loadConfig } from '../config/load.js';
import { out, problem } from '../log/console.js';
import { problemLines } from '../render/text.js';

export interface DaemonOptions {
  config: Config;
  /** Re-reads the config file (SIGHUP); throws ConfigError when it is invalid. */
  reload: () => Config;
  graceMs: number;
  /** Run one cycle at once instead of waiting for the first tick. */
  runNow: boolean;
  /** Lines for the operator (stdout/stderr or the journal under systemd). */
  say: (line: string) => void;
  complain: (line: string) => void;
  /** Each finished cycle's report (rendered by the CLI). */
  onReport?: (report: RunReport) => void;
}

export interface DaemonResult {
  cycles: number;
  /** A cycle was still running when the grace period ended and was cut short. */
  cutShort: boolean;
}

export async function daemon(o: DaemonOptions): Promise<DaemonResult> {
  let config = o.config;
  requireOwnership(config, config.targets);
  configureLogging(config.log);
  let running: Promise<void> | undefined;
  let cycles = 0;
  let stopping = false;

  const cycle = async (): Promise<void> => {
    if (running || stopping) {
      log.info('tick skipped: the previous cycle is still running', { step: 'daemon' });
      return;
    }
    const current = config;
    const once = async (): Promise<void> => {
      try {
        // Loaded once, run many times: a script that became writable by others since must not run.
        refuseUntrustedFiles(current, runningUser());
        const report = await run({ config: current, targets: [], dryRun: false, force: false });
        cycles += 1;
        o.onReport?.(report);
      } catch (err) {
        // A cycle that could not even start (e.g. the log dir vanished) must not end the daemon.
        const line = errorMessage(err);
        log.error(`cycle failed to run: ${line}`, { step: 'daemon' });
        o.complain(err instanceof PollprayError ? line : `cycle failed to run: ${line}`);
      }
    };
    // Cleared in a reaction, never synchronously: a cycle that ends before its first await
    // would otherwise clear `running` before it is set, and every later tick would be skipped.
    running = once().finally(() => {
      running = undefined;
    });
    await running;
  };

  const schedule = (c: Config): ScheduledTask => {
    const task = createTask(c.schedule, cycle, {
      name: 'pollpray',
      noOverlap: true,
      logger: {
        info: (m) => log.debug(m, { step: 'daemon' }),
        warn: (m) => log.debug(m, { step: 'daemon' }),
        error: (m) => log.error(String(m), { step: 'daemon' }),
        debug: (m) => log.debug(String(m), { step: 'daemon' }),
      },
    });
    void task.start();
    return task;
  };

  let task = schedule(config);
  const started = `daemon started: ${config.targets.length} target(s) from ${config.file}, schedule "${config.schedule}"`;
  log.info(started, { step: 'daemon' });
  o.say(started);

  const reload = (): void => {
    let next: Config;
    try {
      next = o.reload();
    } catch (err) {
      const why = errorMessage(err).replace(/\s*\n\s*/g, '; ');
      const line = `config reload failed, keeping the running config: ${why}`;
      log.error(line, { step: 'reload' });
      o.complain(line);
      return;
    }
    if (!validCron(next.schedule)) {
      const line = `config reload failed, keeping the running config: schedule "${next.schedule}" is not a cron expression`;
      log.error(line, { step: 'reload' });
      o.complain(line);
      return;
    }
    const scheduleChanged = next.schedule !== config.schedule;
    config = next;
    try {
      configureLogging(config.log);
    } catch (err) {
      o.complain(errorMessage(err));
    }
    if (scheduleChanged) {
      void task.destroy();
      task = schedule(config);
    }
    const line = `config reloaded: ${config.targets.length} target(s), schedule "${config.schedule}"`;
    log.info(line, { step: 'reload' });
    o.say(line);
  };

  let cutShort = false;
  let release: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    let signalled = 0;
    const onSignal = (signal: Signal): void => {
      if (signal === 'SIGHUP') return reload();
      signalled += 1;
      if (signalled > 1) {
        // The operator insists: end the cycle's process groups now; the cycle records the failure.
        cutShort = running !== undefined;
        killAllChildren('SIGTERM');
        return;
      }
      stopping = true;
      void task.destroy();
      if (!running) return resolve();
      const line = `${signal}: no new cycles; waiting up to ${formatDuration(o.graceMs)} for the running one to finish`;
      log.info(line, { step: 'daemon' });
      o.say(line);
      const timer = setTimeout(() => {
        cutShort = true;
        log.warn(`grace period of ${formatDuration(o.graceMs)} is over: ending the running cycle`, { step: 'daemon' });
        killAllChildren('SIGTERM');
      }, o.graceMs);
      void running.finally(() => {
        clearTimeout(timer);
        resolve();
      });
    };
    release = handleSignals(['SIGINT', 'SIGTERM', 'SIGHUP'], onSignal);
  });

  if (o.runNow) void cycle();
  await finished;
  release();
  const line = `daemon stopped after ${cycles} cycle(s)${cutShort ? ' (the last one was cut short)' : ''}`;
  log.info(line, { step: 'daemon' });
  return { cycles, cutShort };
}

export function defineCommands(program: Command, cli: CliContext): void {
  program
    .command('daemon')
    .description('run cycles on schedule: in the foreground, for a systemd service (SIGHUP reloads the config)')
    .option('--grace <duration>', 'on SIGTERM/SIGINT, how long a running deploy may take to finish', '10m')
    .option('--run-now', 'run a cycle at once, then follow the schedule')
    .action(async (opts: { grace: string; runNow?: boolean }, cmd: Command) => {
      const graceMs = parseDuration(opts.grace);
      if (graceMs === undefined) throw new UsageError(`--grace ${opts.grace} is not a duration`, { hint: 'e.g. --grace 10m' });
      const file = await configFileFrom(cmd);
      const result = await daemon({
        config: loadConfig(file),
        // Reload re-reads the file the daemon started with: a changed cwd or env must not switch configs.
        reload: () => loadConfig(file),
        graceMs,
        runNow: !!opts.runNow,
        say: out,
        complain: problem,
        onReport: (report) => {
          for (const line of problemLines(report)) problem(line);
        },
      });
      cli.setExit(result.cutShort ? EXIT.failed : EXIT.ok);
    });
}
