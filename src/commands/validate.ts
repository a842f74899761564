import { readFileSync } from 'node:fs';
import { hostFindings } from '../config/host-rules.js';
import { loadConfig, locateConfig } from '../config/load.js';
import { configProblemsError, locateFindings } from '../config/report.js';
import { parseYamlSource } from '../config/yaml-source.js';

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
