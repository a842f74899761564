/**
 * Before a command writes anything, everything it would write (the state dir and the
 * target's files in it, the log dir and its files, each target's `path`, checkout
 * `.git`, releases, and a local origin git would read) must belong to the user running
 * it. A `sudo pollpray run` against pollpray's checkout otherwise meets git's "dubious
 * ownership" refusal (which looks like corruption) and leaves root-owned files that
 * the next run as pollpray cannot touch. So the command stops at once, before its
 * first write, with one line naming the path, its owner and the command to run instead.
 * Nothing owned by another user is ever moved, repaired, chowned or deleted.
 */
import { accessSync, constants, lstatSync, readdirSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { Config, Target } from '../config/normalise.js';
import { OwnershipError } from '../errors.js';
import { shellQuote } from '../git/ssh.js';
import { targetDir } from '../state/store.js';
import { currentUid, currentUser, userName } from './users.js';

export interface OwnershipProblem {
  /** What it is, for messages: "checkout", "state dir", "origin". */
  what: string;
  path: string;
  /** The config key naming it (or the path it lies in). */
  key: string;
  owner: number;
  target?: string;
}

/**
 * Who owns `path`: undefined when it does not exist (created later by the right user).
 * When a directory above it may not be entered, that directory is what blocks: its owner
 * and path are reported instead.
 */
function ownerOf(path: string): { path: string; uid: number } | undefined {
  try {
    return { path, uid: lstatSync(path).uid };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES') return undefined;
    for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
      try {
        accessSync(dir, constants.X_OK);
      } catch {
        continue;
      }
      // `dir` can be entered but not its child on the way to `path`: that child blocks.
      const child = join(dir, relative(dir, path).split(sep)[0] ?? '');
      try {
        return { path: child, uid: lstatSync(child).uid };
      } catch {
        return undefined;
      }
    }
    return undefined;
  }
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).map((n) => join(dir, n));
  } catch {
    return [];
  }
}

/** The local directory a `file://` or plain-path repo names; undefined for a network remote. */
export function localOrigin(repo: string): string | undefined {
  if (repo.startsWith('file://')) {
    try {
      return decodeURIComponent(new URL(repo).pathname);
    } catch {
      return undefined;
    }
  }
  return repo.startsWith('/') ? repo : undefined;
}

/** What pollpray would write (or git would read) for these targets that belongs to someone else. */
export function ownershipProblems(config: Config, targets: readonly Target[], uid = currentUid()): OwnershipProblem[] {
  const problems: OwnershipProblem[] = [];
  const check = (what: string, path: string, key: string, target?: string) => {
    const found = ownerOf(path);
    if (found && found.uid !== uid) problems.push({ what, path: found.path, key, owner: found.uid, ...(target ? { target } : {}) });
  };
  // The targets' own paths first: the line then names the target it stops.
  for (const t of targets) {
    const key = `targets.${t.name}.path`;
    // git refuses a work tree another user owns; a releases target's own directory only
    // has to be writable (it may be root's and group-writable), what pollpray made in it is checked.
    if (t.strategy === 'in-place') {
      check('checkout', t.path, key, t.name);
      check('checkout', join(t.path, '.git'), key, t.name);
    } else {
      check('releases dir', join(t.path, 'releases'), key, t.name);
      for (const release of entries(join(t.path, 'releases'))) check('release', release, key, t.name);
      check('current link', join(t.path, 'current'), key, t.name);
    }
    const origin = localOrigin(t.repo);
    // git refuses a repository another user owns ("dubious ownership"), reading included.
    if (origin) check('origin', origin, `targets.${t.name}.repo`, t.name);
    const work = targetDir(config.stateDir, t.name);
    check('state dir', work, 'state_dir', t.name);
    for (const file of entries(work)) check('state file', file, 'state_dir', t.name);
  }
  check('state dir', config.stateDir, 'state_dir');
  check('state dir', join(config.stateDir, 'targets'), 'state_dir');
  check('log dir', config.log.dir, 'log.dir');
  for (const file of entries(config.log.dir)) check('log file', file, 'log.dir');
  return problems;
}

/** The command line that was run, as a user would type it again. */
export function commandLine(argv: readonly string[] = process.argv.slice(2)): string {
  return ['pollpray', ...argv.map(shellQuote)].join(' ');
}

/** The fix for one problem: run as the owner (when it is a real user) or hand the path over. */
export function ownershipHint(p: OwnershipProblem, uid = currentUid(), command = commandLine()): string {
  const owner = userName(p.owner);
  const me = currentUser();
  const runAs = `run it as ${owner}: sudo -u ${owner} ${command}`;
  const giveBack = `give it back to ${me}: sudo chown -R ${me} ${shellQuote(p.path)}`;
  if (uid === 0) return runAs;
  if (p.owner === 0) return `${giveBack} (a run as root left it)`;
  return `${runAs}, or ${giveBack}`;
}

/** Stops the command before its first write when anything it would write belongs to another user. */
export function requireOwnership(config: Config, targets: readonly Target[]): void {
  const problems = ownershipProblems(config, targets);
  const first = problems[0];
  if (!first) return;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more path${problems.length > 2 ? 's' : ''}; pollpray doctor lists them)` : '';
  throw new OwnershipError(
    `${first.what} ${first.path} (${first.key}) is owned by ${userName(first.owner)}, not ${currentUser()}: stopped before writing anything${more}`,
    { ...(first.target ? { target: first.target } : {}), hint: ownershipHint(first) },
  );
}

/** Throws OwnershipError when `path` exists and belongs to another user: for code about to move or delete it. */
export function requireOwnedByMe(what: string, path: string, key: string, target?: string): void {
  const found = ownerOf(path);
  if (!found || found.uid === currentUid()) return;
  const owner = found.uid;
  const p: OwnershipProblem = { what, path: found.path, key, owner, ...(target ? { target } : {}) };
  throw new OwnershipError(`${what} ${found.path} (${key}) is owned by ${userName(owner)}, not ${currentUser()}: left as it is`, {
    ...(target ? { target } : {}),
    hint: ownershipHint(p),
  });
}
