/**
 * The only top-level try/catch and the only process.exit: error classes become exit
 * codes (0 ok, 1 a target failed, 2 usage or config error, 3 run as the wrong user; nothing ran).
 */
import { CommanderError } from 'commander';
import { buildCli } from './cli.js';
import { EXIT, PollprayError, errorMessage, type ExitCode } from './errors.js';
import { killAllChildren } from './exec/groups.js';
import { fsFault } from './host/fs-fault.js';
import { flushLogs, logFatal } from './log/exit-hooks.js';
import { problem } from './log/console.js';
import { handleSignals } from './signals.js';

async function main(argv: string[]): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT.ok;
  const program = buildCli((code) => {
    exitCode = code;
  });
  try {
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

// A signal to pollpray ends its own process groups too: nothing it started outlives it.
// Commands that must finish work first (daemon, serve) put their own handler on top of this one.
handleSignals(['SIGINT', 'SIGTERM'], (signal) => {
  killAllChildren('SIGTERM');
  process.exit(signal === 'SIGINT' ? 130 : 143);
});

const code = await main(process.argv);
await flushLogs();
process.exit(code);
