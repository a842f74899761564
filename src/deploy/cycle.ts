/**
 * One cycle of one target (DESIGN.md "One cycle of one target"): lock, resolve the
 * remote head, decide, fetch, move the code, run the script, restart, record.
 * Decisions are in decide.ts; this file only sequences the IO around them.
 */
import { userInfo } from 'node:os';
import type { Config, Target } from '../config/normalise.js';
import { errorMessage, PollprayError, InternalError } from '../errors.js';
import { commitSubject, fetchCommit, headCommit, isAncestor, isCheckout, resetTo } from '../git/checkout.js';
import { resolveRemoteHead } from '../git/remote.js';
import { endLeftovers } from '../exec/leftovers.js';
import { restartUnit } from '../exec/sudo.js';
import { log } from '../log/logger.js';
import { tryLock } from '../state/lock.js';
import {
  appendHistory,
  ensureStateDir,
  readState,
  writeState,
  type CycleResult,
  type TargetState,
} from '../state/store.js';
import type { FleetGate } from '../coordination/fleet.js';
import { decide, onHistoryRewrite, type Plan } from './decide.js';
import { runDeployScript } from './script.js';

export interface CycleOptions {
  dryRun: boolean;
  force: boolean;
  /** Fleets: asked before the code is touched; see src/coordination/fleet.ts. */
  fleet?: FleetGate;
}

export interface TargetOutcome {
  target: string;
  result: CycleResult;
  /** The commit deployed now, or the remote head that was looked at. */
  sha: string | null;
  previousSha: string | null;
  durationMs: number;
  /** What would happen (dry run) or why nothing happened. */
  detail?: string;
  error?: PollprayError;
}

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : 'none');

export async function runCycle(config: Config, target: Target, options: CycleOptions): Promise<TargetOutcome> {
  const started = Date.now();
  const done = (o: Omit<TargetOutcome, 'target' | 'durationMs'>): TargetOutcome => ({
    target: target.name,
    durationMs: Date.now() - started,
    ...o,
  });
  const fields = { target: target.name };

  const workDir = ensureStateDir(config.stateDir, target.name);
  const lock = await tryLock(config.stateDir, target.name);
  if (!lock) {
    log.info('skipped: run in progress', { ...fields, step: 'lock' });
    return done({ result: 'skipped', sha: null, previousSha: null, detail: 'another run holds the lock' });
  }
  try {
    await endLeftovers(workDir, target.name);
    const loaded = readState(config.stateDir, target.name, target.branch);
    const state = loaded.state;
    if (loaded.movedAside) {
      state.deployedSha = await headCommit(target).catch(() => undefined) ?? null;
      log.warn(`state file was corrupt, moved aside to ${loaded.movedAside}; recovered deployed commit ${short(state.deployedSha)} from disk`, {
        ...fields,
        step: 'state',
      });
    }
    return await cycleLocked(config, target, options, state, workDir, done);
  } finally {
    await lock.release();
  }
}

async function cycleLocked(
  config: Config,
  target: Target,
  options: CycleOptions,
  state: TargetState,
  workDir: string,
  done: (o: Omit<TargetOutcome, 'target' | 'durationMs'>) => TargetOutcome,
): Promise<TargetOutcome> {
  const fields = { target: target.name };
  const now = () => new Date().toISOString();
  const save = (patch: Partial<TargetState>) => {
    if (!options.dryRun) writeState(config.stateDir, { ...state, ...patch });
  };

  let remoteSha: string;
  try {
    const t0 = Date.now();
    remoteSha = await resolveRemoteHead(target, workDir);
    log.debug(`remote head ${short(remoteSha)}`, { ...fields, step: 'ls-remote', durationMs: Date.now() - t0 });
  } catch (err) {
    const error = asPollprayError(err, target.name);
    log.error(error.oneLine(), { ...fields, step: 'ls-remote' });
    save({ lastCheck: now(), lastResult: 'error', lastError: error.oneLine() });
    return done({ result: 'error', sha: null, previousSha: state.deployedSha, error });
  }

  const plan: Plan = decide({ remoteSha, state, force: options.force });
  if (plan.action === 'unchanged') {
    save({ lastCheck: now(), remoteSha, lastResult: 'unchanged', lastError: null, lastSuccess: now() });
    return done({ result: 'unchanged', sha: remoteSha, previousSha: state.deployedSha });
  }
  if (plan.action === 'skip') {
    log.info(`skipped: target is ${plan.reason}`, { ...fields, step: 'decide' });
    save({ lastCheck: now(), remoteSha });
    return done({ result: 'skipped', sha: remoteSha, previousSha: state.deployedSha, detail: plan.reason });
  }

  const describe = `deploy ${short(remoteSha)} (was ${short(state.deployedSha)}, ${plan.reason})`;
  if (options.dryRun) {
    log.info(`dry run: would ${describe}`, { ...fields, commit: remoteSha, step: 'plan' });
    return done({ result: 'deployed', sha: remoteSha, previousSha: state.deployedSha, detail: `would ${describe}` });
  }

  const turn = await options.fleet?.begin(remoteSha, state.deployedSha, options.force);
  if (turn && !turn.go) {
    save({ lastCheck: now(), remoteSha, lastResult: 'skipped', lastError: turn.error ? turn.detail : null });
    return done({ result: 'skipped', sha: remoteSha, previousSha: state.deployedSha, detail: turn.detail, error: turn.error });
  }

  const started = Date.now();
  log.info(describe, { ...fields, commit: remoteSha, step: 'plan' });
  try {
    const t0 = Date.now();
    const how = await fetchCommit(target, remoteSha);
    log.info(how, { ...fields, commit: remoteSha, step: 'fetch', durationMs: Date.now() - t0 });

    // The commit on disk may differ from state (crash after reset, hand edits): the
    // force-push check compares against what state says was deployed.
    if (state.deployedSha && isCheckout(target.path)) {
      const containsDeployed = await isAncestor(target, state.deployedSha, remoteSha);
      if (onHistoryRewrite(containsDeployed, target.onForcePush) === 'refuse' && !options.force) {
        const message = `refused: ${target.branch} was force-pushed (${short(remoteSha)} does not contain deployed ${short(state.deployedSha)})`;
        const hint = 'inspect the branch; deploy it anyway with pollpray run --force ' + target.name + ', or set on_force_push: follow';
        log.warn(`${message} (fix: ${hint})`, { ...fields, commit: remoteSha, step: 'decide' });
        save({ lastCheck: now(), remoteSha, lastResult: 'refused', lastError: `${message} (fix: ${hint})` });
        appendHistory(config.stateDir, entry('refused', remoteSha, state.deployedSha, started, message));
        return done({ result: 'refused', sha: remoteSha, previousSha: state.deployedSha, detail: message });
      }
      if (!containsDeployed) log.warn(`history rewritten: following force-push to ${short(remoteSha)}`, { ...fields, step: 'decide' });
    }

    const onDisk = await headCommit(target);
    if (onDisk && state.deployedSha && onDisk !== state.deployedSha) {
      log.warn(`checkout was at ${short(onDisk)}, not the deployed ${short(state.deployedSha)}: local changes are discarded`, { ...fields, step: 'reset' });
    }
    await resetTo(target, remoteSha);
    log.info(`checked out ${remoteSha}`, { ...fields, commit: remoteSha, step: 'reset' });

    const t1 = Date.now();
    await runDeployScript(target, { oldSha: state.deployedSha, newSha: remoteSha, releaseDir: target.path, dryRun: false, workDir });
    if (target.deploy) log.info('deploy script succeeded', { ...fields, commit: remoteSha, step: 'script', durationMs: Date.now() - t1 });

    for (const unit of target.restart) {
      const t2 = Date.now();
      await restartUnit({ systemctl: config.systemctl, unit, allowlist: target.restart, target: target.name, user: userInfo().username, cwd: workDir });
      log.info(`restarted ${unit}`, { ...fields, commit: remoteSha, step: 'restart', durationMs: Date.now() - t2 });
    }
  } catch (err) {
    const error = asPollprayError(err, target.name);
    log.error(error.oneLine(), { ...fields, commit: remoteSha, step: 'failed' });
    save({ lastCheck: now(), remoteSha, lastResult: 'failed', lastError: error.oneLine() });
    appendHistory(config.stateDir, {
      ...entry('failed', remoteSha, state.deployedSha, started, undefined),
      subject: await commitSubject(target, remoteSha).catch(() => undefined),
      error: error.oneLine(),
    });
    return done({ result: 'failed', sha: remoteSha, previousSha: state.deployedSha, error });
  }

  const subject = await commitSubject(target, remoteSha);
  save({
    deployedSha: remoteSha,
    previousSha: state.deployedSha === remoteSha ? state.previousSha : state.deployedSha,
    remoteSha,
    lastCheck: now(),
    lastSuccess: now(),
    lastResult: 'deployed',
    lastError: null,
  });
  appendHistory(config.stateDir, { ...entry('deployed', remoteSha, state.deployedSha, started, undefined), subject });
  log.info(`deployed ${short(remoteSha)}${subject ? ` "${subject}"` : ''}`, {
    ...fields,
    commit: remoteSha,
    step: 'done',
    durationMs: Date.now() - started,
  });
  return done({ result: 'deployed', sha: remoteSha, previousSha: state.deployedSha });

  function entry(result: CycleResult, sha: string, previousSha: string | null, t0: number, error: string | undefined) {
    return { time: now(), target: target.name, result, sha, previousSha, durationMs: Date.now() - t0, ...(error ? { error } : {}) };
  }
}

function asPollprayError(err: unknown, target: string): PollprayError {
  if (err instanceof PollprayError) return err;
  return new InternalError(errorMessage(err), { target, cause: err, hint: 'this is a bug in pollpray; please report it with the log' });
}
