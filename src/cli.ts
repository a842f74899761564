/**
 * commander wiring only: parse options, call a command, render its result. Options
 * that config can also set get no commander default, so "not given" stays visible.
 */
import { Command, Option } from 'commander';
import { homedir } from 'node:os';
import { locateConfig, loadConfig } from './config/load.js';
import type { Config } from './config/normalise.js';
import { demo } from './commands/demo.js';
import { fleetStatus } from './commands/fleet-status.js';
import { init } from './commands/init.js';
import { run, runFailed } from './commands/run.js';
import { configJsonSchema } from './commands/schema.js';
import { status } from './commands/status.js';
import { validate } from './commands/validate.js';
import { EXIT, type ExitCode } from './errors.js';
import { out, problem, stdoutIsTty } from './log/console.js';
import { fleetStatusLines, outcomeLine, problemLines, statusLines } from './render/text.js';

export const VERSION = '0.1.0';

interface GlobalOptions {
  config?: string;
}

function configFrom(cmd: Command): Config {
  const { config } = cmd.optsWithGlobals<GlobalOptions>();
  return loadConfig(locateConfig({ flag: config, env: process.env, cwd: process.cwd(), home: homedir() }));
}

export function buildCli(setExit: (code: ExitCode) => void): Command {
  const program = new Command('pollpray')
    .description('Outbound polling deployer: keeps apps on the head of their branch, from behind a firewall.')
    .version(VERSION)
    .addOption(new Option('-c, --config <file>', 'config file (default: $POLLPRAY_CONFIG, ./pollpray.yaml, ~/.config/pollpray/config.yaml, /etc/pollpray/config.yaml)'))
    .showHelpAfterError('(run pollpray --help for usage)')
    .configureOutput({ outputError: (text) => problem(text.replace(/^error: /, '').trim()) })
    .exitOverride();

  program
    .command('run')
    .description('check every target (or the named ones) once and deploy what changed')
    .argument('[targets...]', 'target names (default: all)')
    .option('-n, --dry-run', 'say what would happen and change nothing')
    .option('-f, --force', 'redeploy the current head even when it is already deployed')
    .action(async (targets: string[], opts: { dryRun?: boolean; force?: boolean }, cmd: Command) => {
      const report = await run({ config: configFrom(cmd), targets, dryRun: !!opts.dryRun, force: !!opts.force, unattended: !stdoutIsTty() });
      // Cron mails whatever a job prints: on a non-TTY a healthy run is silent.
      if (stdoutIsTty() || report.dryRun) for (const o of report.outcomes) out(outcomeLine(o, report.dryRun));
      else for (const line of problemLines(report)) problem(line);
      if (stdoutIsTty()) for (const line of problemLines(report)) problem(line);
      setExit(runFailed(report) ? EXIT.failed : EXIT.ok);
    });

  program
    .command('status')
    .description('where every target stands: deployed commit, last check, last result')
    .argument('[targets...]', 'target names (default: all)')
    .option('--json', 'machine-readable output (stable; see README)')
    .action((targets: string[], opts: { json?: boolean }, cmd: Command) => {
      const report = status(configFrom(cmd), targets);
      if (opts.json) out(JSON.stringify(report, null, 2));
      else for (const line of statusLines(report)) out(line);
    });

  program
    .command('fleet')
    .description('hosts coordinated through Redis (see coordination in the config)')
    .command('status')
    .description('every host of the group: deployed commit, last result, age, stale hosts')
    .argument('[targets...]', 'target names (default: all)')
    .option('--json', 'machine-readable output (stable; see README)')
    .action(async (targets: string[], opts: { json?: boolean }, cmd: Command) => {
      const report = await fleetStatus(configFrom(cmd), targets);
      if (opts.json) out(JSON.stringify(report, null, 2));
      else for (const line of fleetStatusLines(report)) out(line);
    });

  program
    .command('validate')
    .description('check the config file and report every problem with its line')
    .action(async (_opts: unknown, cmd: Command) => {
      const { config } = cmd.optsWithGlobals<GlobalOptions>();
      const result = await validate({ config, cwd: process.cwd(), env: process.env, home: homedir() });
      out(`${result.file}: ok (${result.targets.length} target${result.targets.length === 1 ? '' : 's'}: ${result.targets.join(', ')})`);
    });

  program
    .command('init')
    .description('write a commented starter config (never overwrites)')
    .argument('[file]', 'where to write it', 'pollpray.yaml')
    .action(async (file: string) => {
      const result = await init({ path: file });
      out(`wrote ${result.path}: edit the target, then run pollpray validate`);
    });

  program
    .command('schema')
    .description('print the config JSON Schema (for editor completion)')
    .action(() => out(JSON.stringify(configJsonSchema(), null, 2)));

  program
    .command('demo')
    .description('show a full deploy cycle on local temp repos (no network, no root)')
    .option('--keep', 'keep the demo directory to look around')
    .action(async (opts: { keep?: boolean }) => {
      const result = await demo({
        keep: !!opts.keep,
        show: (step) => {
          if (step.kind === 'say') out(`\n# ${step.text}`);
          if (step.kind === 'run') {
            out(`\n$ ${step.title}`);
            for (const o of step.report.outcomes) out(`  ${outcomeLine(o, false)}`);
          }
          if (step.kind === 'status') {
            out('\n$ pollpray status');
            for (const line of statusLines(step.report)) out(`  ${line}`);
          }
        },
      });
      out(result.kept ? `\nKept ${result.dir} (config: ${result.dir}/pollpray.yaml, logs in log/).` : '\nDemo finished; temp files removed (pass --keep to look around).');
      setExit(result.deploys === 2 ? EXIT.ok : EXIT.failed);
    });

  return program;
}
