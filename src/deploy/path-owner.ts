/**
 * Which pollpray deploys a target's `path`. Two configs naming one path (cron's
 * /etc/pollpray/config.yaml and a copy run by hand with another `state_dir`) each keep
 * their own state and lock: both deploy every commit into the same place (scripts and
 * restarts twice), their locks do not exclude each other, and one prunes the other's
 * releases. So the path records the state dir and target that deploy it, and a run of
 * any other refuses the target before it touches the path, naming that owner.
 *
 * The record: in-place `<path>/.git/pollpray-owner.json` (git ignores it, the app never
 * sees it), releases `<path>/.pollpray/owner.json`. It is read back untrusted (a small
 * regular file, no link followed, checked against its schema); one that does not hold
 * counts as absent. A path without a record is taken over by the first run that
 * deploys it (an upgrade, a checkout made by hand), and so is one whose recorded state
 * dir is gone, or whose recorded target was renamed in the same config file.
 */
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Config, Target } from '../config/normalise.js';
import { TARGET_NAME_PATTERN } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { shellQuote } from '../git/ssh.js';
import { log } from '../log/logger.js';
import { tryPathLock, type Lock } from '../state/lock.js';
import { targetDir, writeFileAtomic } from '../state/store.js';

const MAX_BYTES = 8192;

/** An absolute path of printable characters (it is shown in a message). */
const absolutePath = z.string().max(4096).regex(/^\/[^\x00-\x1f\x7f]*$/, { message: 'must be an absolute path' });

const ownerSchema = z.object({
  version: z.literal(1),
  /** The real path of the owning config's state_dir. */
  stateDir: absolutePath,
  /** The config file it was deployed from, for the message and the rename case. */
  config: absolutePath,
  target: z.string().max(128).regex(TARGET_NAME_PATTERN),
});

export type PathOwner = z.infer<typeof ownerSchema>;

/** Where the record lives, and the directory that must be pollpray's own to hold it. */
export function ownerRecord(target: Target): { dir: string; file: string } {
  return target.strategy === 'releases'
    ? { dir: join(target.path, '.pollpray'), file: join(target.path, '.pollpray', 'owner.json') }
    : { dir: join(target.path, '.git'), file: join(target.path, '.git', 'pollpray-owner.json') };
}

function isOwnDir(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === process.geteuid?.();
  } catch {
    return false;
  }
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The record, or undefined when there is none or it does not hold. Never follows a link. */
export function readPathOwner(target: Target): PathOwner | undefined {
  let fd: number;
  try {
    fd = openSync(ownerRecord(target).file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  let text = '';
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const buf = Buffer.alloc(MAX_BYTES + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n > MAX_BYTES) return undefined;
    text = buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = ownerSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** Whether the record names this config's state dir and target (or one this config replaced). */
function isMine(owner: PathOwner, config: Config, target: Target): boolean {
  const mine = real(config.stateDir);
  if (owner.stateDir !== mine) return false;
  if (owner.target === target.name) return true;
  // The same config file and state dir, the recorded target no longer in it: a rename.
  return real(owner.config) === real(config.file) && !config.targets.some((t) => t.name === owner.target);
}

/** The recorded owner no longer exists: its state dir, or that target's state in it, is gone. */
function isGone(owner: PathOwner): boolean {
  try {
    lstatSync(targetDir(owner.stateDir, owner.target));
    return false;
  } catch {
    return true;
  }
}

/** The record names another state dir or target, one that still exists: the path is not this target's to touch. */
function heldByAnother(owner: PathOwner, config: Config, target: Target): boolean {
  return !isMine(owner, config, target) && !isGone(owner);
}

/**
 * Why `target` may not deploy to its path, or undefined: the path is recorded as deployed
 * by another state dir or target that still exists. Reads only (doctor asks this too).
 */
export function pathOwnerProblem(config: Config, target: Target): { message: string; hint: string } | undefined {
  const owner = readPathOwner(target);
  if (!owner || !heldByAnother(owner, config, target)) return undefined;
  const { file } = ownerRecord(target);
  const sameDir = owner.stateDir === real(config.stateDir);
  return {
    message: `targets.${target.name}.path ${target.path} is deployed by another pollpray: ${sameDir ? `target ${owner.target}` : `config ${owner.config} (state_dir ${owner.stateDir}, target ${owner.target})`}, not this ${sameDir ? 'target' : `config's state_dir ${config.stateDir}`}`,
    hint: `deploy it with that config only (pollpray -c ${shellQuote(owner.config)} run ${shellQuote(owner.target)}) and give this target another path; to hand the path over to this one, stop the other first, then rm ${shellQuote(file)}`,
  };
}

/**
 * Refuses `target` when its path is recorded as deployed by another state dir or target
 * that still exists. Reads only: safe before anything is written (and in a dry run).
 */
export function requirePathOwner(config: Config, target: Target): void {
  const problem = pathOwnerProblem(config, target);
  if (problem) throw new ConfigError(`${problem.message}; left as it is`, { target: target.name, hint: problem.hint, fault: 'host' });
}

/**
 * Holds the path for this run, against a run of any other config or state dir that names
 * it. The record cannot do that on its own: a path deployed for the first time has none
 * until that deploy ends, and both runs would clone and run their scripts in it at once.
 */
export async function lockPath(target: Target): Promise<Lock> {
  const lock = await tryPathLock(target.path);
  if (lock) return lock;
  throw new ConfigError(`targets.${target.name}.path ${target.path} is being deployed by another pollpray right now (another config or state_dir names this path); left as it is`, {
    target: target.name,
    hint: `deploy each path from one config only; once that run ends, ${ownerRecord(target).file} names its config`,
    fault: 'host',
  });
}

/**
 * Records this config's state dir and target as the path's owner, when the record's
 * directory exists and is pollpray's own and the record does not say so already. Never
 * throws: a record that cannot be written only leaves the path unclaimed.
 */
export function claimPath(config: Config, target: Target): void {
  const { dir, file } = ownerRecord(target);
  const current = readPathOwner(target);
  if (current && isMine(current, config, target) && current.target === target.name && real(current.config) === real(config.file)) return;
  if (current && heldByAnother(current, config, target)) return;
  try {
    // releases: .pollpray is created here when the path exists (in-place: .git is git's, never made here).
    if (target.strategy === 'releases' && isOwnDir(target.path)) {
      try {
        mkdirSync(dir, { mode: 0o750 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    if (!isOwnDir(dir)) return;
    const record: PathOwner = { version: 1, stateDir: real(config.stateDir), config: real(config.file), target: target.name };
    // The store's write: a link planted at the temp name is not followed, a killed run's temp is cleared.
    writeFileAtomic(file, `${JSON.stringify(record)}\n`);
    if (current) log.info(`recorded this config as the deployer of ${target.path} (was ${current.config}, target ${current.target}, which is gone)`, { target: target.name, step: 'owner' });
  } catch (err) {
    log.warn(`could not record this config as the deployer of ${target.path}: ${(err as Error).message}`, { target: target.name, step: 'owner' });
  }
}
