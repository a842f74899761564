/**
 * The sudoers drop-in that lets pollpray restart exactly its allowlisted units and
 * programs: one line per command, the service manager's absolute path, no wildcards, NOPASSWD (pollpray only
 * ever calls `sudo -n`). Every text is checked with `visudo -cf` before anyone sees
 * or installs it: a broken drop-in in /etc/sudoers.d can lock every user out of sudo.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, renameSync, rmSync, writeFileSync, writeSync, fchmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Config, ServiceManager } from '../config/normalise.js';
import { EnvironmentError, UsageError } from '../errors.js';
import { findBinary } from '../exec/find-binary.js';
import { run } from '../exec/run.js';
import { managerArgv, sudoersLine } from '../exec/sudo.js';

export const SUDOERS_FILE = '/etc/sudoers.d/pollpray';

/** What a sudoers rule may name: a plain user, or `%group`. Anything else could change the rule's meaning. */
const NAME = /^[a-z_][a-z0-9_.-]*\$?$/i;

export type Principal = { user: string } | { group: string };

export function principalWord(p: Principal): string {
  const name = 'user' in p ? p.user : p.group;
  if (!NAME.test(name)) {
    throw new UsageError(`"${name}" is not a plain ${'user' in p ? 'user' : 'group'} name`, {
      hint: 'use letters, digits, "_", "." and "-" only',
    });
  }
  if ('user' in p && name === 'root') {
    throw new UsageError('root needs no sudoers rule, and pollpray should not run as root', {
      hint: 'pass the user pollpray runs as: --user pollpray (or --group <group>)',
    });
  }
  return 'user' in p ? name : `%${name}`;
}

/** Each unit once, in config order, even when several targets restart it. */
export function allowlistedUnits(config: Config): string[] {
  return [...new Set(config.targets.flatMap((t) => t.restart))];
}

export interface AllowedCommand {
  /** The unit or program. */
  name: string;
  manager: ServiceManager;
  verb: 'restart' | 'status';
  /** Exactly what pollpray runs after `sudo -n`. */
  argv: string[];
}

/**
 * Every command pollpray runs through sudo, each once, in config order: the restart of
 * each entry, and for supervisorctl also its `status` (supervisord's socket is root's,
 * so doctor can only ask whether a program exists through sudo).
 */
export function allowlistedCommands(config: Config): AllowedCommand[] {
  const seen = new Map<string, AllowedCommand>();
  for (const t of config.targets) {
    const verbs = t.serviceManager.kind === 'supervisorctl' ? (['restart', 'status'] as const) : (['restart'] as const);
    for (const name of t.restart) {
      for (const verb of verbs) {
        const argv = managerArgv(t.serviceManager, verb, name);
        const key = argv.join('\0');
        if (!seen.has(key)) seen.set(key, { name, manager: t.serviceManager, verb, argv });
      }
    }
  }
  return [...seen.values()];
}

export function renderSudoers(config: Config, principal: Principal): string {
  const commands = allowlistedCommands(config);
  if (commands.length === 0) {
    throw new UsageError(`no target in ${config.file} has a restart: list, so pollpray needs no sudo rule`, {
      hint: 'add the units to restart, e.g. restart: [app.service], then run this again',
    });
  }
  const who = principalWord(principal);
  const source = config.file.replace(/[\x00-\x1f]/g, '?');
  return [
    `# pollpray: restart allowlist, written by \`pollpray sudoers\` from ${source}.`,
    '# Regenerate it after changing restart: lists; do not widen it by hand (no wildcards).',
    ...commands.map((c) => sudoersLine(who, c.argv)),
    '',
  ].join('\n');
}

function visudo(): string {
  const path = findBinary('visudo');
  if (!path) throw new EnvironmentError('visudo not found', { hint: 'install sudo (apt-get install sudo)' });
  return path;
}

/** Checks one file's syntax with `visudo -cf`; throws with visudo's own words when it is rejected. */
export async function checkSudoersFile(file: string): Promise<void> {
  const result = await run([visudo(), '-cf', file], { cwd: dirname(file), timeoutMs: 10_000 });
  if (result.exitCode === 0) return;
  const why = `${result.stderr}${result.stdout}`.trim().split('\n').filter(Boolean).join('; ');
  throw new EnvironmentError(`visudo rejected the generated sudoers text: ${why || `exit ${result.exitCode}`}`, {
    hint: 'this is a bug in pollpray (unit names are validated); please report it with this message',
  });
}

/** Checks text with visudo via a private temp file, so nothing unchecked is shown or installed. */
export async function checkSudoersText(text: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-sudoers-'));
  try {
    const file = join(dir, 'pollpray');
    writeFileSync(file, text, { mode: 0o440 });
    await checkSudoersFile(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Writes `dest` atomically: a temp file in the same directory whose name has a dot
 * (sudo skips such files in sudoers.d, so a crash mid-write is never read), mode
 * 0440, fsync, visudo -cf on the very bytes written, rename, fsync of the directory.
 */
export async function installSudoers(text: string, dest: string = SUDOERS_FILE): Promise<void> {
  const dir = dirname(dest);
  const tmp = join(dir, `.${basename(dest)}.tmp-${process.pid}`);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o440);
  } catch (cause) {
    throw new EnvironmentError(`cannot write in ${dir} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, {
      hint: 'run it as root: sudo pollpray sudoers --install --user <user>',
      cause,
    });
  }
  try {
    try {
      fchmodSync(fd, 0o440); // the umask may have narrowed it; sudo wants exactly 0440
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    await checkSudoersFile(tmp);
    renameSync(tmp, dest);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
