import { closeSync, fchmodSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { STARTER_CONFIG } from '../config/starter.js';
import { ConfigError } from '../errors.js';
import type { Command } from 'commander';
import type { CliContext } from './cli-context.js';
import { out } from '../log/console.js';

export interface InitOptions {
  /** Where to write the starter config; relative paths are relative to the caller's cwd. */
  path: string;
}

export interface InitResult {
  path: string;
}

/** `pollpray init`: write the commented starter config. Never overwrites a file. */
export async function init(o: InitOptions): Promise<InitResult> {
  mkdirSync(dirname(o.path), { recursive: true, mode: 0o750 });
  let fd: number;
  try {
    // 'wx' creates or fails in one step: no window in which an existing file is clobbered.
    fd = openSync(o.path, 'wx', 0o640);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new ConfigError(`${o.path} already exists; pollpray init never overwrites a config`, {
        hint: 'remove it first or choose another path (pollpray init <file>)',
        cause: err,
      });
    }
    throw new ConfigError(`cannot create ${o.path} (${code ?? String(err)})`, { hint: 'choose a path this user can write', cause: err });
  }
  try {
    // The umask may have narrowed the mode; make it exactly 0640 (the file names keys and commands).
    fchmodSync(fd, 0o640);
    writeSync(fd, STARTER_CONFIG);
  } finally {
    closeSync(fd);
  }
  return { path: o.path };
}

export function defineCommands(program: Command, _cli: CliContext): void {
  program
    .command('init')
    .description('write a commented starter config (never overwrites)')
    .argument('[file]', 'where to write it', 'pollpray.yaml')
    .action(async (file: string) => {
      const result = await init({ path: file });
      out(`wrote ${result.path}: edit the target, then run pollpray validate`);
    });
}
