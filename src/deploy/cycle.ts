/**
 * One cycle of one target (DESIGN.md "One cycle of one target"):
 *
 *   lock → ls-remote → decide → fetch → (force-push policy) → prepare (strategy)
 *   → deploy script → switch (strategy) → restart → health → on failure roll back → record
 *
 * Decisions are pure (decide.ts, policy.ts); how code lands on disk is the strategy's
 * (strategy.ts); this file only sequences the steps and records what happened.
 */
import type { Config, Target } from '../config/normalise.js';
import { CommitContentError, errorMessage, PollprayError, InternalError, SignatureError, type PollprayErrorOptions } from '../errors.js';
import { commitSubject, isAncestor } from '../git/checkout.js';
import { fsFault } from '../host/fs-fault.js';
import { resolveWanted } from '../git/remote.js';
import { signedBy, verifyCommit } from '../git/verify.js';
import { endLeftovers } from '../exec/leftovers.js';
import { log } from '../log/logger.js';
import { bothLocks, tryLock, type Lock } from '../state/lock.js';
import {
  appendHistory,
  ensureStateDir,
  readState,
  writeState,
  writeStateAsync,
  type CycleResult,
  type HistoryEntry,
  type TargetState,
} from '../state/store.js';
import type { FleetGate } from '../coordination/fleet.js';
import { decide, onHistoryRewrite, type Plan } from './decide.js';
import { restartAndCheck, rollBackTo } from './go-live.js';
import { afterFailedAttempt, clearFailures, countsAgainstCommit } from './policy.js';
import { claimPath, lockPath, requirePathOwner } from './path-owner.js';
import { currentRelease } from './releases.js';
import { runDeployment } from './pipeline.js';
import { requireRunnable } from './script.js';
import { strategyFor, type Prepared, type Strategy, type Version } from './strategy.js';

export interface CycleOptions {
  dryRun: boolean;
  force: boolean;
  /** Fleets: asked before the code is touched; see src/coordination/fleet.ts. */
  fleet?: FleetGate;
  /**
   * Settles when this target may go to the remote: `run` starts a cycle's local part
   * (lock, leftovers, state) while its ssh connection is still being opened.
   */
  connected?: Promise<unknown>;
  /** Bounds the calls to the remote (ls-remote) of the targets sharing a connection; see `run`. */
  remote?: <R>(work: () => Promise<R>) => Promise<R>;
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
  /** Set when the commit was skipped because it failed max_attempts times. */
  quarantined?: boolean;
  error?: PollprayError;
  /** A failed deploy went live and was switched back to the previous version. */
  rolledBack?: boolean;
}

type Done = (o: Omit<TargetOutcome, 'target' | 'durationMs'>) => TargetOutcome;

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : 'none');

/**
 * The first half of a cycle: lock, resolve the remote head, decide. `run` does this for
 * every target before any fetch, so twenty unchanged targets cost twenty ls-remotes
 * and nothing else. A target that needs a deploy comes back `pending` with its lock
 * still held: the lock covers the check and the deploy it led to, so no other run
 * can deploy the same target in between. Everything else has released its lock.
 */
export async function checkTarget(config: Config, target: Target, options: CycleOptions): Promise<Checked> {
  const started = Date.now();
  const done: Done = (o) => ({ target: target.name, durationMs: Date.now() - started, ...o });
  const fields = { target: target.name };

  const workDir = ensureStateDir(config.stateDir, target.name);
  let lock: Lock | undefined;
  try {
    lock = await tryLock(config.stateDir, target.name);
  } catch (err) {
    // Held by a process pollpray does not trust: said, never skipped in silence.
    const error = asPollprayError(err, target.name);
    log.error(error.oneLine(), { ...fields, step: 'lock' });
    return { kind: 'done', outcome: done({ result: 'error', sha: null, previousSha: null, error }) };
  }
  if (!lock) {
    log.info('skipped: run in progress', { ...fields, step: 'lock' });
    return { kind: 'done', outcome: done({ result: 'skipped', sha: null, previousSha: null, detail: 'another run holds the lock' }) };
  }
  let checked: Checked | undefined;
  try {
    let strategy: Strategy;
    let loaded: ReturnType<typeof readState>;
    try {
      // Another config's state dir deploys this path: touch nothing in it (not even leftovers).
      requirePathOwner(config, target);
      // No record yet, or one this config may take over: hold the path itself while this run works in it.
      if (!options.dryRun) lock = bothLocks(lock, await lockPath(target));
      await endLeftovers(workDir, target.name);
      strategy = strategyFor(target, workDir);
      if (!options.dryRun) {
        await strategy.recover();
        claimPath(config, target);
      }
      loaded = readState(config.stateDir, target.name, target.branch);
    } catch (err) {
      // This target's own files (its state, leftovers, releases) are the problem: it
      // fails alone, and the other targets of the run still run. Nothing was written.
      const error = asPollprayError(err, target.name);
      log.error(error.oneLine(), { ...fields, step: 'state' });
      checked = { kind: 'done', outcome: done({ result: 'error', sha: null, previousSha: null, error }) };
      return checked;
    }
    const state = loaded.state;
    if (loaded.movedAside) {
      state.deployedSha = (await strategy.liveCommit().catch(() => undefined)) ?? null;
      log.warn(`state file was corrupt (it ${loaded.why}), moved aside to ${loaded.movedAside}; recovered deployed commit ${short(state.deployedSha)} from disk`, {
        ...fields,
        step: 'state',
      });
    }
    const cycle = new Cycle(config, target, options, state, workDir, strategy, done);
    const result = await cycle.check();
    checked = typeof result === 'string' ? { kind: 'pending', target, cycle, lock, remoteSha: result } : { kind: 'done', outcome: result };
    return checked;
  } finally {
    if (checked?.kind !== 'pending') await lock.release();
  }
}

/** The second half: fetch, move the code, script, switch, restart, health, record; releases the lock. */
export async function deployChecked(pending: PendingDeploy): Promise<TargetOutcome> {
  try {
    return await pending.cycle.deploy(pending.remoteSha);
  } finally {
    await pending.lock.release();
  }
}

/** One whole cycle of one target (both halves). */
export async function runCycle(config: Config, target: Target, options: CycleOptions): Promise<TargetOutcome> {
  const checked = await checkTarget(config, target, options);
  return checked.kind === 'done' ? checked.outcome : deployChecked(checked);
}

export interface PendingDeploy {
  kind: 'pending';
  target: Target;
  cycle: Cycle;
  lock: Lock;
  remoteSha: string;
}

export type Checked = { kind: 'done'; outcome: TargetOutcome } | PendingDeploy;

/** One locked cycle; each step is a method so new steps (verify, notify) slot in between. */
export class Cycle {
  private readonly fields: { target: string };
  private readonly started = Date.now();
  /** The tag whose commit is deployed, for a target that tracks tags. */
  private tag: string | undefined;

  constructor(
    private readonly config: Config,
    private readonly target: Target,
    private readonly options: CycleOptions,
    private readonly state: TargetState,
    private readonly workDir: string,
    private readonly strategy: Strategy,
    private readonly done: Done,
  ) {
    this.fields = { target: target.name };
  }

  private now = () => new Date().toISOString();

  private save(patch: Partial<TargetState>): void {
    if (!this.options.dryRun) writeState(this.config.stateDir, { ...this.state, ...patch });
  }

  /** save() without holding the event loop for the fsyncs: for the unchanged check, twenty at a time. */
  private async saveAsync(patch: Partial<TargetState>): Promise<void> {
    if (!this.options.dryRun) await writeStateAsync(this.config.stateDir, { ...this.state, ...patch });
  }

  private entry(result: CycleResult, sha: string, extra: Partial<HistoryEntry> = {}): HistoryEntry {
    return { time: this.now(), target: this.target.name, result, sha, previousSha: this.state.deployedSha, durationMs: Date.now() - this.started, ...extra };
  }

  /** Resolve and decide: an outcome when nothing is to be deployed, else the commit to deploy. */
  async check(): Promise<TargetOutcome | string> {
    const { state, target, fields } = this;
    let remoteSha: string;
    await this.options.connected;
    try {
      const t0 = Date.now();
      const wanted = this.options.remote ? await this.options.remote(() => resolveWanted(target, this.workDir)) : await resolveWanted(target, this.workDir);
      remoteSha = wanted.sha;
      this.tag = wanted.tag;
      log.debug(`remote head ${short(remoteSha)}${wanted.tag ? ` (tag ${wanted.tag})` : ''}`, { ...fields, step: 'ls-remote', durationMs: Date.now() - t0 });
    } catch (err) {
      return this.error(err, 'ls-remote', null);
    }

    const plan: Plan = decide({ remoteSha, state, force: this.options.force, maxAttempts: target.maxAttempts });
    if (plan.action === 'unchanged') {
      await this.saveAsync({ lastCheck: this.now(), remoteSha, lastResult: 'unchanged', lastError: null, lastSuccess: this.now() });
      return this.done({ result: 'unchanged', sha: remoteSha, previousSha: state.deployedSha });
    }
    if (plan.action === 'skip') return this.skip(plan, remoteSha);

    const describe = `deploy ${short(remoteSha)} (was ${short(state.deployedSha)}, ${plan.reason})`;
    if (this.options.dryRun) {
      log.info(`dry run: would ${describe}`, { ...fields, commit: remoteSha, step: 'plan' });
      return this.done({ result: 'deployed', sha: remoteSha, previousSha: state.deployedSha, detail: `would ${describe}` });
    }
    log.info(describe, { ...fields, commit: remoteSha, step: 'plan' });
    return remoteSha;
  }

  private skip(plan: Extract<Plan, { action: 'skip' }>, remoteSha: string): TargetOutcome {
    const { fields, target } = this;
    let detail: string = plan.reason;
    if (plan.reason === 'quarantined') {
      detail = `commit ${short(remoteSha)} is quarantined after ${plan.attempts} failed attempts (fix: push a new commit, or retry it with pollpray run --force ${target.name})`;
      log.warn(`skipped: ${detail}`, { ...fields, commit: remoteSha, step: 'decide' });
    } else if (plan.reason === 'backoff') {
      detail = `commit ${short(remoteSha)} failed ${plan.attempts}/${target.maxAttempts} times; next retry at ${plan.nextRetry}`;
      log.info(`skipped: ${detail}`, { ...fields, commit: remoteSha, step: 'decide' });
    } else {
      log.info(`skipped: target is ${plan.reason}`, { ...fields, step: 'decide' });
    }
    this.save({ lastCheck: this.now(), remoteSha });
    return this.done({ result: 'skipped', sha: remoteSha, previousSha: this.state.deployedSha, detail, quarantined: plan.reason === 'quarantined' });
  }

  async deploy(sha: string): Promise<TargetOutcome> {
    // Fleets: take a slot and pass the canary gate before the code is touched.
    const turn = await this.options.fleet?.begin(sha, this.state.deployedSha, this.options.force);
    if (turn && !turn.go) {
      this.save({ lastCheck: this.now(), remoteSha: sha, lastResult: 'skipped', lastError: turn.error ? turn.detail : null });
      return this.done({ result: 'skipped', sha, previousSha: this.state.deployedSha, detail: turn.detail, error: turn.error });
    }
    try {
      const t0 = Date.now();
      const how = await this.strategy.fetch(sha, this.tag);
      log.info(how, { ...this.fields, commit: sha, step: 'fetch', durationMs: Date.now() - t0 });
    } catch (err) {
      // The commit's own tree is refused (a .git path): its fault, so backoff and quarantine apply.
      // (CommitContentError's fault is 'commit', which the policy counts.)
      if (err instanceof CommitContentError) return this.failed(sha, err, { rolledBack: false });
      return this.error(err, 'fetch', sha);
    }
    const refused = await this.forcePushPolicy(sha);
    if (refused) return refused;
    if (this.target.verify) {
      // Fails closed, before anything of the commit is checked out or run.
      try {
        const signature = await verifyCommit(this.target, sha, this.strategy.repoDir);
        log.info(signedBy(signature), { ...this.fields, commit: sha, step: 'verify' });
      } catch (err) {
        return this.unverified(sha, asPollprayError(err, this.target.name));
      }
    }
    try {
      // After the signature check: a commit's submodule URLs are contacted only once it is trusted.
      await this.strategy.inspect(sha);
    } catch (err) {
      if (err instanceof CommitContentError) return this.failed(sha, err, { rolledBack: false });
      return this.error(err, 'fetch', sha);
    }
    return this.build(sha);
  }

  /** Not deployed because the signature check refused it; nothing on disk changed, no failure counted. */
  private async unverified(sha: string, error: PollprayError): Promise<TargetOutcome> {
    if (!(error instanceof SignatureError)) return this.error(error, 'verify', sha);
    const line = error.oneLine();
    log.error(line, { ...this.fields, commit: sha, step: 'unverified' });
    this.save({ lastCheck: this.now(), remoteSha: sha, lastResult: 'unverified', lastError: line });
    appendHistory(this.config.stateDir, {
      ...this.entry('unverified', sha),
      subject: await commitSubject(this.target, sha, this.strategy.repoDir).catch(() => undefined),
      error: line,
    });
    return this.done({ result: 'unverified', sha, previousSha: this.state.deployedSha, error });
  }

  /** A refusal outcome when the branch was rewritten and the policy is refuse. */
  private async forcePushPolicy(sha: string): Promise<TargetOutcome | undefined> {
    const { state, target, fields } = this;
    // The commit on disk may differ from state (crash mid-deploy, hand edits): the
    // force-push check compares against what state says was deployed.
    if (!state.deployedSha || !this.strategy.hasRepo()) return undefined;
    const containsDeployed = await isAncestor(target, state.deployedSha, sha, this.strategy.repoDir);
    if (onHistoryRewrite(containsDeployed, target.onForcePush) === 'refuse' && !this.options.force) {
      const message = `refused: ${target.branch} was force-pushed (${short(sha)} does not contain deployed ${short(state.deployedSha)})`;
      const hint = `inspect the branch; deploy it anyway with pollpray run --force ${target.name}, or set on_force_push: follow`;
      log.warn(`${message} (fix: ${hint})`, { ...fields, commit: sha, step: 'decide' });
      this.save({ lastCheck: this.now(), remoteSha: sha, lastResult: 'refused', lastError: `${message} (fix: ${hint})` });
      appendHistory(this.config.stateDir, this.entry('refused', sha, { error: message }));
      return this.done({ result: 'refused', sha, previousSha: state.deployedSha, detail: `${message.replace(/^refused: /, '')} (fix: ${hint})` });
    }
    if (!containsDeployed) log.warn(`history rewritten: following force-push to ${short(sha)}`, { ...fields, step: 'decide' });
    return undefined;
  }

  /** prepare → script → switch → restart → health; a failure once the code is live rolls back. */
  private async build(sha: string): Promise<TargetOutcome> {
    const { target, strategy, fields } = this;
    const previousRelease = target.strategy === 'releases' ? currentRelease(target.path) : null;
    let prepared: Prepared | undefined;
    let live = false;
    try {
      requireRunnable(target);
      prepared = await strategy.prepare(sha, this.state);
      live = strategy.liveOnPrepare;
      const t1 = Date.now();
      const subject = await commitSubject(target, sha, this.strategy.repoDir).catch(() => undefined);
      await runDeployment(target, { oldSha: this.state.deployedSha, newSha: sha, tag: this.tag, releaseDir: prepared.dir, dryRun: false, workDir: this.workDir, subject });
      if (target.deploy || target.steps) log.info(target.steps ? 'pipeline succeeded' : 'deploy script succeeded', { ...fields, commit: sha, step: 'script', durationMs: Date.now() - t1 });
      await strategy.activate(prepared);
      live = true;
      await restartAndCheck(this.config, target, this.workDir, prepared);
    } catch (err) {
      const error = asPollprayError(err, target.name);
      if (!live) {
        if (prepared) await strategy.discard(prepared).catch(() => undefined);
        return this.failed(sha, error, { rolledBack: false });
      }
      return this.failed(sha, error, await this.rollBack(sha, error));
    }
    return this.succeeded(sha, prepared, previousRelease);
  }

  /** Back to the version that was live before `sha`; says whether that worked. */
  private async rollBack(sha: string, cause: PollprayError): Promise<{ rolledBack: boolean; rollbackError?: string }> {
    const { state, target } = this;
    log.error(cause.oneLine(), { ...this.fields, commit: sha, step: 'live' });
    if (!state.deployedSha) {
      log.warn('no previous deploy to roll back to: the failed commit stays on disk', { ...this.fields, commit: sha, step: 'rollback' });
      return { rolledBack: false };
    }
    const to: Version = { sha: state.deployedSha, release: state.currentRelease };
    try {
      await rollBackTo(this.config, target, this.strategy, this.workDir, to, sha);
      log.warn(`rolled back to ${short(to.sha)}`, { ...this.fields, commit: to.sha, step: 'rollback' });
      return { rolledBack: true };
    } catch (err) {
      const e = asPollprayError(err, target.name);
      log.error(`rollback to ${short(to.sha)} failed too: ${e.oneLine()}`, { ...this.fields, commit: to.sha, step: 'rollback' });
      return { rolledBack: false, rollbackError: e.message };
    }
  }

  private async succeeded(sha: string, prepared: Prepared, previousRelease: string | null): Promise<TargetOutcome> {
    const { state, target } = this;
    const subject = await commitSubject(target, sha, this.strategy.repoDir);
    const redeploy = state.deployedSha === sha;
    const next: TargetState = {
      ...state,
      deployedSha: sha,
      previousSha: redeploy ? state.previousSha : state.deployedSha,
      currentRelease: prepared.release ?? null,
      // Paired with previousSha, from state: after a run killed past its switch, `current`
      // points at that run's release of this same commit, which is no version to roll back to.
      previousRelease: prepared.release ? (redeploy ? state.previousRelease : (state.currentRelease ?? previousRelease)) : null,
      remoteSha: sha,
      lastCheck: this.now(),
      lastSuccess: this.now(),
      lastResult: 'deployed',
      lastError: null,
      lastFault: null,
      rolledBack: false,
      failures: clearFailures(state.failures, sha),
    };
    this.save(next);
    // A first deploy made the checkout (or releases) just now: from here on, this path is this target's.
    claimPath(this.config, target);
    appendHistory(this.config.stateDir, this.entry('deployed', sha, { subject, ...(prepared.release ? { release: prepared.release } : {}) }));
    log.info(`deployed ${short(sha)}${subject ? ` "${subject}"` : ''}`, { ...this.fields, commit: sha, step: 'done', durationMs: Date.now() - this.started });
    await this.strategy.prune(next).catch((err) => log.warn(`pruning old releases failed: ${errorMessage(err)}`, { ...this.fields, step: 'prune' }));
    return this.done({ result: 'deployed', sha, previousSha: state.deployedSha });
  }

  private async failed(
    sha: string,
    error: PollprayError,
    how: { rolledBack: boolean; rollbackError?: string },
  ): Promise<TargetOutcome> {
    const { state, target } = this;
    const rolled = how.rolledBack
      ? `; rolled back to ${short(state.deployedSha)}`
      : how.rollbackError
        ? `; rollback to ${short(state.deployedSha)} failed too: ${how.rollbackError}`
        : '';
    // A host fault is the machine's: the operator fixes it and the next run deploys, no --force.
    const suffix = countsAgainstCommit(error.fault) ? rolled : `${rolled}; not counted against ${short(sha)}: the next run deploys it once this is fixed`;
    const shown = withSuffix(error, suffix);
    const line = shown.oneLine();
    log.error(line, { ...this.fields, commit: sha, step: 'failed' });
    this.save({
      lastCheck: this.now(),
      remoteSha: sha,
      lastResult: 'failed',
      lastError: line,
      lastFault: error.fault,
      rolledBack: how.rolledBack,
      failures: afterFailedAttempt(state.failures, sha, new Date(this.started), error),
    });
    appendHistory(this.config.stateDir, {
      ...this.entry('failed', sha),
      subject: await commitSubject(target, sha, this.strategy.repoDir).catch(() => undefined),
      error: line,
      rolledBack: how.rolledBack,
    });
    return this.done({ result: 'failed', sha, previousSha: state.deployedSha, error: shown, rolledBack: how.rolledBack });
  }

  /** ls-remote or fetch did not work: the network or the remote, not the commit. */
  private error(err: unknown, step: string, sha: string | null): TargetOutcome {
    const error = asPollprayError(err, this.target.name);
    log.error(error.oneLine(), { ...this.fields, step, ...(sha ? { commit: sha } : {}) });
    this.save({ lastCheck: this.now(), lastResult: 'error', lastError: error.oneLine(), lastFault: error.fault, ...(sha ? { remoteSha: sha } : {}) });
    return this.done({ result: 'error', sha, previousSha: this.state.deployedSha, error });
  }
}

/** The same error, its message extended by what the rollback did (for stderr and state). */
function withSuffix(error: PollprayError, suffix: string): PollprayError {
  if (!suffix) return error;
  const Same = error.constructor as new (message: string, options: PollprayErrorOptions) => PollprayError;
  return new Same(`${error.message}${suffix}`, error.options());
}

/** A filesystem error is the host's (named by the config key to fix); anything else unknown is a bug. */
function asPollprayError(err: unknown, target: string): PollprayError {
  if (err instanceof PollprayError) return err;
  const host = fsFault(err, target);
  if (host) return host;
  return new InternalError(errorMessage(err), { target, cause: err, hint: 'this is a bug in pollpray; please report it with the log' });
}
