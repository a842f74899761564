/**
 * The only top-level try/catch and the only process.exit: error classes become exit
 * codes (0 ok, 1 a target failed, 2 usage or config error, 3 run as the wrong user; nothing ran).
 *
 * Everything but the version is imported inside main(): `pollpray --version` alone is
 * answered by this file and version.ts, at the cost of Node's own start-up.
 */
import type { ExitCode } from './errors.js';
import { VERSION } from './version.js';
import { commandName } from './command-name.js';

async function main(argv: string[]): Promise<ExitCode> {
  const [{ killAllChildren }, { handleSignals }] = await Promise.all([import('./exec/groups.js'), import('./signals.js')]);
  // A signal to pollpray ends its own process groups too: nothing it started outlives it.
  // Commands that must finish work first (daemon, serve) put their own handler on top of this one.
  handleSignals(['SIGINT', 'SIGTERM'], (signal) => {
    killAllChildren('SIGTERM');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
  // `run`: the ssh handshakes start before the rest loads (git/early-connect.ts).
  if (commandName(argv) === 'run' && !argv.some((a) => a === 'help' || a === '-h' || a === '--help')) {
    earlyStarted = (await import('./git/early-connect.js')).connectEarly(argv);
  }
  const [{ EXIT, PollprayError, errorMessage }, { fsFault }, { logFatal }, { problem }, { buildCli, CommanderError }] = await Promise.all([
    import('./errors.js'),
    import('./host/fs-fault.js'),
    import('./log/exit-hooks.js'),
    import('./log/console.js'),
    import('./cli.js'),
  ]);
  tuneV8(await import('node:v8'));
  let exitCode: ExitCode = EXIT.ok;
  try {
    const program = await buildCli(argv, VERSION, {
      setExit: (code) => {
        exitCode = code;
      },
    });
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    // A filesystem error (EACCES, EROFS, ENOSPC, a missing parent) is the host's: it names the key to fix.
    const known = err instanceof PollprayError ? err : fsFault(err);
    if (known) {
      for (const line of known.lines()) problem(line);
      logFatal(known.oneLine());
      return known.exitCode;
    }
    problem(`internal error: ${errorMessage(err)} (fix: this is a bug in pollpray; please report it)`);
    logFatal(`internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    return EXIT.failed;
  }
}

/**
 * pollpray's JavaScript is glue between git and ssh: its memory, not its speed, is what a
 * host notices (and every fork copies its page tables). So V8 keeps its young generation
 * at 1 MiB and its heap small, and skips the optimizing compilers, whose work a run never
 * earns back: a 200-target run peaks at ~69 MiB instead of ~100, the daemon stays at ~69
 * instead of ~115, at the same speed (bench/README.md, goal 5). Set here, once Node's own
 * modules are loaded: a changed flag makes V8 refuse the code cache Node ships them with,
 * which cost a one-target run ~15 ms when set first thing. Not on node's command line,
 * which cron and the units (`node /usr/local/bin/pollpray`) would bypass; a deploy
 * script's node does not inherit them. Each flag exists in Node 20, 22 and 24
 * (test/e2e/node-versions.test.ts, install.test.ts: an unknown one prints on stderr).
 */
function tuneV8(v8: typeof import('node:v8')): void {
  v8.setFlagsFromString('--semi-space-growth-factor=1 --optimize-for-size --no-turbofan --no-maglev --no-sparkplug');
}

const argv = process.argv;
if (argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V')) {
  process.stdout.write(`${VERSION}\n`);
  process.exit(0);
}
let earlyStarted = false;
const code = await main(argv);
// Early masters a run did not adopt (a config error stopped it first): closed, not left to ControlPersist.
if (earlyStarted) await (await import('./git/multiplex.js')).closeEarlyMasters();
await (await import('./log/exit-hooks.js')).flushLogs();
process.exit(code);
