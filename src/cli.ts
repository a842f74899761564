/**
 * commander wiring only: parse options, call a command, render its result. Options
 * that config can also set get no commander default, so "not given" stays visible.
 */
import { Command, Option } from 'commander';
import { homedir } from 'node:os';
import { locateConfig, loadConfig } from './config/load.js';
import type { Config } from './config/normalise.js';
import { demo } from './commands/demo.js';
import { init } from './commands/init.js';
import { run, runFailed } from './commands/run.js';
import { configJsonSchema } from './commands/schema.js';
import { status } from './commands/status.js';
import { testSsh } from './commands/test-ssh.js';
import { trustHost } from './commands/trust-host.js';
import { validate } from './commands/validate.js';
import { EXIT, type ExitCode } from './errors.js';
import { ask, out, problem, stdinIsTty, stdoutIsTty } from './log/console.js';
import { checkLine } from './render/checks.js';
import { outcomeLine, problemLines, statusLines } from './render/text.js';

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
    .option('--no-splay', 'start at once, without the per-host splay delay (already off on a terminal)')
    .action(async (targets: string[], opts: { dryRun?: boolean; force?: boolean; splay: boolean }, cmd: Command) => {
      // splay spreads a fleet's cron runs; a person at a terminal should not wait for it.
      const splay = opts.splay && !stdoutIsTty() && !stdinIsTty();
      const report = await run({ config: configFrom(cmd), targets, dryRun: !!opts.dryRun, force: !!opts.force, splay });
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
    .command('test-ssh')
    .description('check each target\'s deploy key, pinned host key, connection, repository and branch')
    .argument('[targets...]', 'target names (default: all)')
    .option('--json', 'machine-readable output')
    .action(async (targets: string[], opts: { json?: boolean }, cmd: Command) => {
      const report = await testSsh({ config: configFrom(cmd), targets });
      if (opts.json) out(JSON.stringify(report, null, 2));
      else for (const t of report.targets) for (const check of t.checks) out(checkLine(t.target, check));
      setExit(report.ok ? EXIT.ok : EXIT.failed);
    });

  program
    .command('trust-host')
    .description('fetch a host\'s ssh keys, show their fingerprints and pin them after confirmation')
    .argument('<host>', 'host or host:port, e.g. github.com or git.example.com:2222')
    .option('-y, --yes', 'pin the keys without asking (check the printed fingerprints first)')
    .option('--fingerprint <sha256>', 'pin only the key with this fingerprint (SHA256:…, as your forge publishes it)')
    .option('--replace', 'replace a different key already pinned for this host (a changed host key)')
    .option('--known-hosts <file>', 'write here instead of the known_hosts of the targets on this host')
    .action(async (host: string, opts: { yes?: boolean; fingerprint?: string; replace?: boolean; knownHosts?: string }, cmd: Command) => {
      const config = opts.knownHosts ? undefined : configFrom(cmd);
      const report = await trustHost({
        host,
        config,
        knownHosts: opts.knownHosts,
        yes: !!opts.yes,
        fingerprint: opts.fingerprint,
        replace: !!opts.replace,
        confirm: stdinIsTty()
          ? async (keys, files) => {
              for (const k of keys) out(`${host}: ${k.type} ${k.fingerprint}`);
              const answer = await ask(`Pin ${keys.length === 1 ? 'this key' : `these ${keys.length} keys`} in ${files.join(', ')}? Compare with your forge's published fingerprints first. [y/N] `);
              return /^y(es)?$/i.test(answer);
            }
          : undefined,
      });
      if (!stdinIsTty() || opts.yes || opts.fingerprint) for (const k of report.keys) out(`${host}: ${k.type} ${k.fingerprint}`);
      if (report.trusted.length === 0) out('nothing pinned');
      for (const f of report.files) {
        const parts = [f.added ? `added ${f.added}` : '', f.replaced ? `replaced ${f.replaced}` : '', f.alreadyPinned ? `${f.alreadyPinned} already pinned` : ''].filter(Boolean);
        out(`${f.file}: ${parts.join(', ')} (${report.name})`);
      }
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
