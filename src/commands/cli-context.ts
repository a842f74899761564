/**
 * What every command's commander definition gets from cli.ts: where the config is, and
 * how to set the exit code. Each command module declares its own commander definition
 * (`defineCommands`) and is imported only when that command runs, so a command loads
 * what it uses and nothing else.
 */
import type { Command } from 'commander';
import { homeDir } from '../host/users.js';
import type { Config } from '../config/normalise.js';
import type { ExitCode } from '../errors.js';

export interface GlobalOptions {
  config?: string;
}

export interface CliContext {
  setExit(code: ExitCode): void;
}

/** A command module as cli.ts loads it. */
export interface CommandModule {
  defineCommands(program: Command, cli: CliContext): void;
}

export async function configFileFrom(cmd: Command): Promise<string> {
  const { locateConfig } = await import('../config/load.js');
  const { config } = cmd.optsWithGlobals<GlobalOptions>();
  return locateConfig({ flag: config, env: process.env, cwd: process.cwd(), home: homeDir() });
}

/**
 * Loads the config when called: doctor reports a config that does not load as one of
 * its checks. Commands that run or read the scripts, hooks and keys the config names
 * (run, rollback, serve, daemon, and validate, which says so) refuse one another local
 * user could change; `report` leaves them to commands that only look (status, history,
 * cron, …) or check them themselves (doctor, test-ssh), so an operator can still see a
 * target whose script needs fixing; `dirs` (pause, resume) refuses only a state or log
 * dir others could write, where those commands write, and still pauses such a target. `trustConfigOwner`: doctor
 * and sudoers, run as root, may read a config its owner wrote (src/config/load.ts).
 */
export async function configLoader(cmd: Command, namedFiles: 'refuse' | 'report' | 'dirs' = 'refuse', trustConfigOwner = false): Promise<() => Config> {
  const { loadConfig, locateConfig } = await import('../config/load.js');
  const { config } = cmd.optsWithGlobals<GlobalOptions>();
  return () => loadConfig(locateConfig({ flag: config, env: process.env, cwd: process.cwd(), home: homeDir() }), undefined, { namedFiles, trustConfigOwner });
}

export async function configFrom(cmd: Command, namedFiles: 'refuse' | 'report' | 'dirs' = 'refuse', trustConfigOwner = false): Promise<Config> {
  return (await configLoader(cmd, namedFiles, trustConfigOwner))();
}
