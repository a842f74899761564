import { chownSync, closeSync, existsSync, fchmodSync, fchownSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { STARTER_CONFIG } from '../config/starter.js';
import { ConfigError, UsageError } from '../errors.js';
import { run } from '../exec/run.js';
import type { Command } from 'commander';
import type { CliContext } from './cli-context.js';
import { out } from '../log/console.js';

export interface InitOptions {
  /** Where to write the starter config; relative paths are relative to the caller's cwd. */
  path: string;
  /** The group that may read it (the user pollpray runs as): the file and a new directory get it. */
  group?: string;
  /** The running uid: passed in to keep this testable. */
  uid?: number;
}

export interface InitResult {
  path: string;
  /** The group the file was given, when --group was passed. */
  group?: string;
  /** Said when the file is root's alone: the user pollpray runs as could not read it. */
  note?: string;
}

const GROUP_NAME = /^[a-z_][a-z0-9_.-]*\$?$/i;

/** The gid of `group`, from the host's group database (getent: /etc/group, LDAP, …). */
async function groupId(group: string): Promise<number> {
  if (!GROUP_NAME.test(group)) {
    throw new UsageError(`"${group}" is not a plain group name`, { hint: 'pass the group of the user pollpray runs as, e.g. --group pollpray' });
  }
  const r = await run(['getent', 'group', group], { cwd: '/', timeoutMs: 10_000 });
  const gid = Number(r.stdout.split(':')[2]);
  if (r.exitCode !== 0 || !Number.isInteger(gid)) {
    throw new UsageError(`group ${group} does not exist`, { hint: 'create the user first (useradd --system … pollpray also creates its group), or pass an existing group' });
  }
  return gid;
}

/**
 * `pollpray init`: write the commented starter config. Never overwrites a file. The
 * file is 0640: with --group it belongs to that group (so the user pollpray runs as can
 * read a config root wrote); written by root without it, a note says how to share it.
 */
export async function init(o: InitOptions): Promise<InitResult> {
  const gid = o.group === undefined ? undefined : await groupId(o.group);
  const dir = dirname(o.path);
  const newDir = !existsSync(dir);
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  if (newDir && gid !== undefined) chownSync(dir, -1, gid);
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
    if (gid !== undefined) {
      try {
        fchownSync(fd, -1, gid);
      } catch (err) {
        throw new ConfigError(`cannot give ${o.path} to group ${o.group} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
          hint: `run it as root (sudo pollpray init --group ${o.group} ${o.path}), or chgrp ${o.group} ${o.path} as root`,
          cause: err,
        });
      }
    }
    writeSync(fd, STARTER_CONFIG);
  } finally {
    closeSync(fd);
  }
  if (gid !== undefined) return { path: o.path, group: o.group };
  if ((o.uid ?? process.getuid?.()) === 0) {
    return {
      path: o.path,
      note: `${o.path} is root's alone (0640): the user pollpray runs as cannot read it. Give it that user's group: chgrp pollpray ${o.path}${newDir ? ` ${dir}` : ''} (or write it with pollpray init --group pollpray)`,
    };
  }
  return { path: o.path };
}

export function defineCommands(program: Command, _cli: CliContext): void {
  program
    .command('init')
    .description('write a commented starter config (never overwrites)')
    .argument('[file]', 'where to write it', 'pollpray.yaml')
    .option('--group <group>', "give the file (mode 0640) to this group: the pollpray user's, so it can read a config root writes")
    .action(async (file: string, opts: { group?: string }) => {
      const result = await init({ path: file, group: opts.group });
      out(`wrote ${result.path}${result.group ? ` (mode 0640, group ${result.group})` : ''}: edit the target, then run pollpray validate`);
      if (result.note) out(result.note);
    });
}
