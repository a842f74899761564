import type { Config } from '../config/normalise.js';
import { ConfigError, UsageError } from '../errors.js';
import { serviceManagerFiles, trustProblem } from '../config/file-trust.js';
import { checkSudoersText, installSudoers, renderSudoers, SUDOERS_FILE, type Principal } from '../privilege/sudoers.js';
import { Option, type Command } from 'commander';
import { configFrom, type CliContext } from './cli-context.js';
import { out } from '../log/console.js';
import { currentUser } from '../host/users.js';

export interface SudoersOptions {
  config: Config;
  user?: string;
  group?: string;
  install: boolean;
  /** Where --install writes (tests only; hidden flag). */
  destination?: string;
  /** The running uid, the invoking user's name and SUDO_USER: passed in to keep this testable. */
  uid: number;
  currentUser: string;
  sudoUser?: string;
}

export interface SudoersResult {
  text: string;
  installed?: string;
}

/** The user the rule is for: --user, --group, else who ran sudo, else whoever runs this. */
export function choosePrincipal(o: Pick<SudoersOptions, 'user' | 'group' | 'uid' | 'currentUser' | 'sudoUser'>): Principal {
  if (o.user !== undefined && o.group !== undefined) {
    throw new UsageError('--user and --group exclude each other', { hint: 'pass one of them' });
  }
  if (o.user !== undefined) return { user: o.user };
  if (o.group !== undefined) return { group: o.group };
  if (o.uid === 0 && o.sudoUser && o.sudoUser !== 'root') return { user: o.sudoUser };
  return { user: o.currentUser };
}

/** `pollpray sudoers`: the drop-in, checked by visudo before it is returned or installed. */
export async function sudoers(o: SudoersOptions): Promise<SudoersResult> {
  // The drop-in lets the pollpray user run these files as root (supervisorctl reads its
  // config as root): only root may be able to change them, or a directory or link on their way.
  const managerFiles = serviceManagerFiles(o.config);
  const files = managerFiles.length > 0 ? managerFiles : [{ key: ['systemctl'], path: o.config.systemctl }];
  for (const f of files) {
    const untrusted = trustProblem(f.path, { uid: 0, user: 'root' }, 'run commands as root through this sudo rule');
    if (untrusted) throw new ConfigError(`${f.key.join('.')}: ${untrusted.message}`, { hint: untrusted.fix });
  }
  const text = renderSudoers(o.config, choosePrincipal(o));
  if (!o.install) {
    await checkSudoersText(text);
    return { text };
  }
  if (o.uid !== 0) {
    throw new UsageError('sudoers --install writes /etc/sudoers.d and needs root', {
      hint: `run it as root: sudo pollpray sudoers --install --user ${o.user ?? o.currentUser} (or print it without --install and review it first)`,
    });
  }
  const dest = o.destination ?? SUDOERS_FILE;
  await installSudoers(text, dest);
  return { text, installed: dest };
}

/** The running user's name (its uid when no passwd entry names it: a container's --user 54321). */
export function currentUserName(): string {
  return currentUser();
}

export function defineCommands(program: Command, _cli: CliContext): void {
  program
    .command('sudoers')
    .description('print the sudoers drop-in for the restart allowlist (checked with visudo -cf), or install it')
    .option('--user <user>', 'the user pollpray runs as (default: $SUDO_USER under sudo, else you)')
    .option('--group <group>', 'allow a group instead of a user')
    .option('--install', 'write /etc/sudoers.d/pollpray atomically, mode 0440 (root only)')
    .addOption(new Option('--destination <file>', 'where --install writes (tests)').hideHelp())
    .action(async (opts: { user?: string; group?: string; install?: boolean; destination?: string }, cmd: Command) => {
      const result = await sudoers({
        config: await configFrom(cmd, 'report', true),
        user: opts.user,
        group: opts.group,
        install: !!opts.install,
        destination: opts.destination,
        uid: process.getuid?.() ?? 1000,
        currentUser: currentUserName(),
        sudoUser: process.env.SUDO_USER,
      });
      if (result.installed) out(`installed ${result.installed} (mode 0440, checked with visudo -cf):`);
      out(result.text.trimEnd());
    });
}
