/**
 * The dispatcher: the program, its global options, and which module defines each
 * command. A command module declares its own commander definition (`defineCommands`)
 * and is imported only when that command runs, so `pollpray status` never loads what
 * `run` or `serve` need. `--help` and an unknown or missing command load every
 * definition (help lists them all); `--version` never gets here (main.ts).
 */
import { Command, Option } from 'commander';
import type { CliContext, CommandModule } from './commands/cli-context.js';
import { problem } from './log/console.js';
import { commandName } from './command-name.js';

export { commandName } from './command-name.js';

export { CommanderError } from 'commander';

interface CommandEntry {
  /** The commands the module defines, in the order help lists them. */
  names: readonly string[];
  load: () => Promise<CommandModule>;
}

const COMMANDS: readonly CommandEntry[] = [
  { names: ['run'], load: () => import('./commands/run.js') },
  { names: ['status'], load: () => import('./commands/status.js') },
  { names: ['history'], load: () => import('./commands/history.js') },
  { names: ['rollback'], load: () => import('./commands/rollback.js') },
  { names: ['pause', 'resume'], load: () => import('./commands/pause.js') },
  { names: ['test-ssh'], load: () => import('./commands/test-ssh.js') },
  { names: ['trust-host'], load: () => import('./commands/trust-host.js') },
  { names: ['serve'], load: () => import('./commands/serve.js') },
  { names: ['fleet'], load: () => import('./commands/fleet-status.js') },
  { names: ['validate'], load: () => import('./commands/validate.js') },
  { names: ['init'], load: () => import('./commands/init.js') },
  { names: ['schema'], load: () => import('./commands/schema.js') },
  { names: ['doctor'], load: () => import('./commands/doctor.js') },
  { names: ['sudoers'], load: () => import('./commands/sudoers.js') },
  { names: ['cron'], load: () => import('./commands/cron.js') },
  { names: ['daemon'], load: () => import('./commands/daemon.js') },
  { names: ['demo'], load: () => import('./commands/demo.js') },
];

/** `version` comes from main.ts, which answers `--version` alone without loading this module. */
export async function buildCli(argv: readonly string[], version: string, cli: CliContext): Promise<Command> {
  const program = new Command('pollpray')
    .description('Outbound polling deployer: keeps apps on the head of their branch, from behind a firewall.')
    .version(version)
    .addOption(new Option('-c, --config <file>', 'config file (default: $POLLPRAY_CONFIG, ./pollpray.yaml, ~/.config/pollpray/config.yaml, /etc/pollpray/config.yaml)'))
    .showHelpAfterError('(run pollpray --help for usage)')
    .configureOutput({ outputError: (text) => problem(text.replace(/^error: /, '').trim()) })
    .exitOverride();

  const name = commandName(argv);
  const wanted = COMMANDS.find((entry) => name !== undefined && entry.names.includes(name));
  if (wanted) {
    (await wanted.load()).defineCommands(program, cli);
  } else if (name !== undefined && !argv.includes('-h') && !argv.includes('--help')) {
    // An unknown command: commander's error (and its "did you mean") needs only the names.
    for (const entry of COMMANDS) for (const n of entry.names) program.command(n);
  } else {
    const modules = await Promise.all(COMMANDS.map((entry) => entry.load()));
    for (const module of modules) module.defineCommands(program, cli);
  }
  return program;
}
