/**
 * The only top-level try/catch and the only process.exit: error classes become exit
 * codes (0 ok, 1 a target failed, 2 usage or config error; nothing ran).
 */
import { EXIT, PollprayError, errorMessage, type ExitCode } from './errors.js';
import { killAllChildren } from './exec/groups.js';
import { flushLogs, logFatal } from './log/exit-hooks.js';
import { out, problem } from './log/console.js';
import { handleSignals } from './signals.js';
import { VERSION } from './version.js';

async function main(argv: string[]): Promise<ExitCode> {
  // `pollpray --version` alone is answered before commander (and everything else) loads.
  if (argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V')) {
    out(VERSION);
    return EXIT.ok;
  }
  let exitCode: ExitCode = EXIT.ok;
  const { buildCli, CommanderError } = await import('./cli.js');
  try {
    const program = await buildCli(argv, {
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
    if (err instanceof PollprayError) {
      for (const line of err.lines()) problem(line);
      logFatal(err.oneLine());
      return err.exitCode;
    }
    problem(`internal error: ${errorMessage(err)} (fix: this is a bug in pollpray; please report it)`);
    logFatal(`internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    return EXIT.failed;
  }
}

// A signal to pollpray ends its own process groups too: nothing it started outlives it.
// Commands that must finish work first (daemon, serve) put their own handler on top of this one.
handleSignals(['SIGINT', 'SIGTERM'], (signal) => {
  killAllChildren('SIGTERM');
  process.exit(signal === 'SIGINT' ? 130 : 143);
});

const code = await main(process.argv);
await flushLogs();
process.exit(code);
