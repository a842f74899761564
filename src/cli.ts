/**
 * commander wiring only: parse options, call a command, render its result. Options
 * that config can also set get no commander default, so "not given" stays visible.
 */
import { Command, Option } from 'commander';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import type { Config } from './config/normalise.js';
import type { CronAction } from './commands/cron.js';
import { EXIT, UsageError, type ExitCode } from './errors.js';
import { parseDuration } from './duration.js';
import { ask, out, problem, stdinIsTty, stdoutIsTty } from './log/console.js';

export const VERSION = '0.1.0';

interface GlobalOptions {
  config?: string;
}

/**
 * Commands, and what they need (zod, yaml, winston, execa), are imported inside their
 * actions: `pollpray --version` and `--help` load none of them, and each command only
 * what it uses.
 */
async function configFileFrom(cmd: Command): Promise<string> {
  const { locateConfig } = await import('./config/load.js');
  const { config } = cmd.optsWithGlobals<GlobalOptions>();
  return locateConfig({ flag: config, env: process.env, cwd: process.cwd(), home: homedir() });
}

/**
 * Loads the config when called: doctor reports a config that does not load as one of
 * its checks. Commands that run or read the scripts, hooks and keys the config names
 * (run, rollback, serve, daemon, and validate, which says so) refuse one another local
 * user could change; `report` leaves them to commands that only look (status, history,
 * pause, cron, …) or check them themselves (doctor, test-ssh), so an operator can
 * still see and pause a target whose script needs fixing.
 */
async function configLoader(cmd: Command, namedFiles: 'refuse' | 'report' = 'refuse', trustConfigOwner = false): Promise<() => Config> {
  const { loadConfig, locateConfig } = await import('./config/load.js');
  const { config } = cmd.optsWithGlobals<GlobalOptions>();
  return () => loadConfig(locateConfig({ flag: config, env: process.env, cwd: process.cwd(), home: homedir() }), undefined, { namedFiles, trustConfigOwner });
}

async function configFrom(cmd: Command, namedFiles: 'refuse' | 'report' = 'refuse', trustConfigOwner = false): Promise<Config> {
  return (await configLoader(cmd, namedFiles, trustConfigOwner))();
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
      const { outcomeLine, problemLines } = await import('./render/text.js');
      const { run, runFailed } = await import('./commands/run.js');
      // splay spreads a fleet's cron runs; a person at a terminal should not wait for it.
      const splay = opts.splay && !stdoutIsTty() && !stdinIsTty();
      const report = await run({ config: await configFrom(cmd), targets, dryRun: !!opts.dryRun, force: !!opts.force, splay });
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
    .action(async (targets: string[], opts: { json?: boolean }, cmd: Command) => {
      const { status } = await import('./commands/status.js');
      const { statusLines } = await import('./render/text.js');
      const report = status(await configFrom(cmd, 'report'), targets);
      if (opts.json) out(JSON.stringify(report, null, 2));
      else for (const line of statusLines(report)) out(line);
    });

  program
    .command('history')
    .description('what was deployed, failed, refused or rolled back, oldest first')
    .argument('[target]', 'one target (default: all)')
    .option('--json', 'machine-readable output (stable; see README)')
    .option('-n, --limit <count>', 'only the last <count> entries', (v) => Number.parseInt(v, 10))
    .action(async (target: string | undefined, opts: { json?: boolean; limit?: number }, cmd: Command) => {
      const { history } = await import('./commands/history.js');
      const { historyLines } = await import('./render/text.js');
      const report = history(await configFrom(cmd, 'report'), target ? [target] : [], opts.limit);
      if (opts.json) out(JSON.stringify(report, null, 2));
      else for (const line of historyLines(report)) out(line);
    });

  program
    .command('rollback')
    .description('go back to the previous deploy (or the named commit or release) and pause the target')
    .argument('<target>', 'target name')
    .argument('[commit|release]', 'a commit (7+ hex digits) or release name (default: the previous deploy)')
    .action(async (target: string, to: string | undefined, _opts: unknown, cmd: Command) => {
      const { rollback } = await import('./commands/rollback.js');
      const r = await rollback({ config: await configFrom(cmd), target, to });
      out(`${r.target}: rolled back to ${r.to.slice(0, 12)}${r.release ? ` (release ${r.release})` : ''} from ${r.from ? r.from.slice(0, 12) : 'none'}; paused until pollpray resume ${r.target}`);
    });

  program
    .command('pause')
    .description('stop deploying a target until resume (run --force still deploys)')
    .argument('<target>', 'target name')
    .action(async (target: string, _opts: unknown, cmd: Command) => {
      const { setPaused } = await import('./commands/pause.js');
      const r = await setPaused({ config: await configFrom(cmd, 'report'), target, paused: true });
      out(`${r.target}: ${r.changed ? 'paused' : `was already paused${r.reason ? ` (${r.reason})` : ''}`}`);
    });

  program
    .command('resume')
    .description('deploy a paused target again from the next run on')
    .argument('<target>', 'target name')
    .action(async (target: string, _opts: unknown, cmd: Command) => {
      const { setPaused } = await import('./commands/pause.js');
      const r = await setPaused({ config: await configFrom(cmd, 'report'), target, paused: false });
      out(`${r.target}: ${r.changed ? 'resumed: the next run deploys the branch head' : 'was not paused'}`);
    });

  program
    .command('test-ssh')
    .description('check each target\'s deploy key, pinned host key, connection, repository and branch')
    .argument('[targets...]', 'target names (default: all)')
    .option('--json', 'machine-readable output')
    .action(async (targets: string[], opts: { json?: boolean }, cmd: Command) => {
      const { checkLine } = await import('./render/checks.js');
      const { testSsh } = await import('./commands/test-ssh.js');
      const report = await testSsh({ config: await configFrom(cmd, 'report'), targets });
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
      const { trustHost } = await import('./commands/trust-host.js');
      const config = opts.knownHosts ? undefined : await configFrom(cmd, 'report');
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
    .command('serve')
    .description('optional webhook accelerator: a verified push queues an immediate cycle of its targets')
    .option('--listen <host:port>', 'address to listen on (default: serve.listen, else 127.0.0.1:9876)')
    .action(async (opts: { listen?: string }, cmd: Command) => {
      const { serve } = await import('./commands/serve.js');
      await serve({ config: await configFrom(cmd), listen: opts.listen, onListening: (url) => out(`pollpray serve: listening on ${url}`) });
    });

  program
    .command('fleet')
    .description('hosts coordinated through Redis (see coordination in the config)')
    .command('status')
    .description('every host of the group: deployed commit, last result, age, stale hosts')
    .argument('[targets...]', 'target names (default: all)')
    .option('--json', 'machine-readable output (stable; see README)')
    .action(async (targets: string[], opts: { json?: boolean }, cmd: Command) => {
      const { fleetStatus } = await import('./commands/fleet-status.js');
      const { fleetStatusLines } = await import('./render/text.js');
      const report = await fleetStatus(await configFrom(cmd, 'report'), targets);
      if (opts.json) out(JSON.stringify(report, null, 2));
      else for (const line of fleetStatusLines(report)) out(line);
    });

  program
    .command('validate')
    .description('check the config file and report every problem with its line')
    .action(async (_opts: unknown, cmd: Command) => {
      const { validate } = await import('./commands/validate.js');
      const { config } = cmd.optsWithGlobals<GlobalOptions>();
      const result = await validate({ config, cwd: process.cwd(), env: process.env, home: homedir() });
      out(`${result.file}: ok (${result.targets.length} target${result.targets.length === 1 ? '' : 's'}: ${result.targets.join(', ')})`);
    });

  program
    .command('init')
    .description('write a commented starter config (never overwrites)')
    .argument('[file]', 'where to write it', 'pollpray.yaml')
    .option('--group <group>', "give the file (mode 0640) to this group: the pollpray user's, so it can read a config root writes")
    .action(async (file: string, opts: { group?: string }) => {
      const { init } = await import('./commands/init.js');
      const result = await init({ path: file, group: opts.group });
      out(`wrote ${result.path}${result.group ? ` (mode 0640, group ${result.group})` : ''}: edit the target, then run pollpray validate`);
      if (result.note) out(result.note);
    });

  program
    .command('schema')
    .description('print the config JSON Schema (for editor completion)')
    .action(async () => {
      const { configJsonSchema } = await import('./commands/schema.js');
      out(JSON.stringify(configJsonSchema(), null, 2));
    });

  program
    .command('doctor')
    .description('check this host and the config for everything an unattended run needs; every problem with its fix')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { currentUserName } = await import('./commands/sudoers.js');
      const { doctor } = await import('./commands/doctor.js');
      const { doctorLines } = await import('./render/doctor.js');
      const report = await doctor({ loadConfig: await configLoader(cmd, 'report', true), uid: process.getuid?.() ?? 1000, user: currentUserName() });
      if (opts.json) out(JSON.stringify(report, null, 2));
      else for (const line of doctorLines(report)) out(line);
      setExit(report.failed ? EXIT.failed : EXIT.ok);
    });

  program
    .command('sudoers')
    .description('print the sudoers drop-in for the restart allowlist (checked with visudo -cf), or install it')
    .option('--user <user>', 'the user pollpray runs as (default: $SUDO_USER under sudo, else you)')
    .option('--group <group>', 'allow a group instead of a user')
    .option('--install', 'write /etc/sudoers.d/pollpray atomically, mode 0440 (root only)')
    .addOption(new Option('--destination <file>', 'where --install writes (tests)').hideHelp())
    .action(async (opts: { user?: string; group?: string; install?: boolean; destination?: string }, cmd: Command) => {
      const { currentUserName, sudoers } = await import('./commands/sudoers.js');
      const result = await sudoers({
        config: await configFrom(cmd, 'report', true),
        user: opts.user,
        group: opts.group,
        install: !!opts.install,
        destination: opts.destination,
        uid: process.getuid?.() ?? 1000,
        currentUser: currentUserName(),
        sudoUser: process.env.SUDO_USER,
      });
      if (result.installed) out(`installed ${result.installed} (mode 0440, checked with visudo -cf):`);
      out(result.text.trimEnd());
    });

  program
    .command('cron')
    .description("print, install or remove pollpray's line in your crontab (idempotent)")
    .argument('<action>', 'print | install | remove')
    .option('--every <duration>', 'how often, e.g. 5m or 1h (default: schedule: from the config)')
    .action(async (action: string, opts: { every?: string }, cmd: Command) => {
      const { cron } = await import('./commands/cron.js');
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

  program
    .command('daemon')
    .description('run cycles on schedule: in the foreground, for a systemd service (SIGHUP reloads the config)')
    .option('--grace <duration>', 'on SIGTERM/SIGINT, how long a running deploy may take to finish', '10m')
    .option('--run-now', 'run a cycle at once, then follow the schedule')
    .action(async (opts: { grace: string; runNow?: boolean }, cmd: Command) => {
      const { daemon } = await import('./commands/daemon.js');
      const { loadConfig } = await import('./config/load.js');
      const { problemLines } = await import('./render/text.js');
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
      setExit(result.cutShort ? EXIT.failed : EXIT.ok);
    });

  program
    .command('demo')
    .description('show a full deploy cycle on local temp repos (no network, no root)')
    .option('--keep', 'keep the demo directory to look around')
    .action(async (opts: { keep?: boolean }) => {
      const { demo } = await import('./commands/demo.js');
      const { outcomeLine, statusLines } = await import('./render/text.js');
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
