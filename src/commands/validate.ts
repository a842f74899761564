import { readFileSync } from 'node:fs';
import { hostFindings } from '../config/host-rules.js';
import { loadConfig, locateConfig } from '../config/load.js';
import type { Command } from 'commander';
import { homeDir } from '../host/users.js';
import type { CliContext, GlobalOptions } from './cli-context.js';
import { out } from '../log/console.js';
import { configProblemsError, locateFindings } from '../config/report.js';
import { parseYamlSource } from '../config/yaml-source.js';

export interface ValidateOptions {
  /** `--config`, when the user passed it. */
  config?: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  home: string | undefined;
}

export interface ValidateResult {
  file: string;
  targets: string[];
}

/**
 * `pollpray validate`: find and check the config, then what it names on this host (deploy
 * scripts that must run, target paths that must be writable); throws one ConfigError
 * listing every problem with its line.
 */
export async function validate(o: ValidateOptions): Promise<ValidateResult> {
  const file = locateConfig({ flag: o.config, env: o.env, cwd: o.cwd, home: o.home });
  const config = loadConfig(file);
  const host = hostFindings(config);
  if (host.length > 0) throw configProblemsError(file, locateFindings(host, parseYamlSource(readFileSync(file, 'utf8'))));
  return { file, targets: config.targets.map((t) => t.name) };
}

export function defineCommands(program: Command, _cli: CliContext): void {
  program
    .command('validate')
    .description('check the config file and report every problem with its line')
    .action(async (_opts: unknown, cmd: Command) => {
      const { config } = cmd.optsWithGlobals<GlobalOptions>();
      const result = await validate({ config, cwd: process.cwd(), env: process.env, home: homeDir() });
      out(`${result.file}: ok (${result.targets.length} target${result.targets.length === 1 ? '' : 's'}: ${result.targets.join(', ')})`);
    });
}
