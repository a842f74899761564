/**
 * Which config file to use: `--config` > `POLLPRAY_CONFIG` > `<cwd>/pollpray.yaml` >
 * `~/.config/pollpray/config.yaml` > `/etc/pollpray/config.yaml`. cwd and home are
 * passed in, so the precedence is testable without chdir or a fake home.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';

export interface LocateOptions {
  /** `--config` as the user typed it (relative to cwd). */
  flag?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Undefined when there is no home directory to use (src/host/users.ts homeDir). */
  home: string | undefined;
}

export const SYSTEM_CONFIG = '/etc/pollpray/config.yaml';

/** The places searched when nothing names a file explicitly, in order. */
export function defaultConfigPlaces(cwd: string, home: string | undefined): string[] {
  return [join(cwd, 'pollpray.yaml'), ...(home ? [join(home, '.config/pollpray/config.yaml')] : []), SYSTEM_CONFIG];
}

export function locateConfig(opts: LocateOptions): string {
  // An explicit choice never falls through to another file: running a different
  // config than the one the operator named could deploy the wrong thing.
  const explicit: [string, string | undefined][] = [
    ['--config', opts.flag],
    ['POLLPRAY_CONFIG', opts.env.POLLPRAY_CONFIG],
  ];
  for (const [source, value] of explicit) {
    if (value === undefined || value === '') continue;
    const file = isAbsolute(value) ? value : resolve(opts.cwd, value);
    if (!existsSync(file)) {
      throw new ConfigError(`config file ${file} (from ${source}) does not exist`, {
        hint: `check the path, or create it with pollpray init ${value}`,
      });
    }
    if (statSync(file).isDirectory()) {
      throw new ConfigError(`config file ${file} (from ${source}) is a directory`, {
        hint: 'point it at the YAML file itself',
      });
    }
    return file;
  }

  const places = defaultConfigPlaces(opts.cwd, opts.home);
  const found = places.find((p) => existsSync(p));
  if (found) return found;
  throw new ConfigError(`no config file found (searched --config, POLLPRAY_CONFIG, ${places.join(', ')})`, {
    hint: 'run pollpray init to create a commented starter pollpray.yaml, or pass --config <file>',
  });
}
