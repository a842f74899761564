/**
 * What every command's commander definition gets from cli.ts: where the config is, and
 * how to set the exit code. Each command module declares its own commander definition
 * (`defineCommands`) and is imported only when that command runs, so a command loads
 * what it uses and nothing else.
 */
import type { Command } from 'commander';
import { homedir } from 'node:os';
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
  return locateConfig({ flag: config, env: process.env, cwd: process.cwd(), home: homedir() });
}

/** Loads the config when called: doctor reports a config that does not load as one of its checks. */
export async function configLoader(cmd: Command): Promise<() => Config> {
  const { loadConfig, locateConfig } = await import('../config/load.js');
  const { config } = cmd.optsWithGlobals<GlobalOptions>();
  return () => loadConfig(locateConfig({ flag: config, env: process.env, cwd: process.cwd(), home: homedir() }));
}

export async function configFrom(cmd: Command): Promise<Config> {
  return (await configLoader(cmd))();
}
