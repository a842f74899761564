import { loadConfig, locateConfig } from '../config/load.js';
import type { Command } from 'commander';
import { homedir } from 'node:os';
import type { CliContext, GlobalOptions } from './cli-context.js';
import { out } from '../log/console.js';

export interface ValidateOptions {
  /** `--config`, when the user passed it. */
  config?: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  home: string;
}

export interface ValidateResult {
  file: string;
  targets: string[];
}

/** `pollpray validate`: find and check the config; throws one ConfigError listing every problem. */
export async function validate(o: ValidateOptions): Promise<ValidateResult> {
  const file = locateConfig({ flag: o.config, env: o.env, cwd: o.cwd, home: o.home });
  const config = loadConfig(file);
  return { file, targets: config.targets.map((t) => t.name) };
}

export function defineCommands(program: Command, _cli: CliContext): void {
  program
    .command('validate')
    .description('check the config file and report every problem with its line')
    .action(async (_opts: unknown, cmd: Command) => {
      const { config } = cmd.optsWithGlobals<GlobalOptions>();
      const result = await validate({ config, cwd: process.cwd(), env: process.env, home: homedir() });
      out(`${result.file}: ok (${result.targets.length} target${result.targets.length === 1 ? '' : 's'}: ${result.targets.join(', ')})`);
    });
}
