import { loadConfig, locateConfig } from '../config/load.js';

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
