/**
 * `pollpray rollback <target> [commit|release]`: put a version that was live before
 * back (default: the previous one), restart, check health, and pause the target so the
 * next cycle does not redeploy the head that was just rolled away from.
 */
import type { Config, Target } from '../config/normalise.js';
import { errorMessage, PollprayError, UsageError } from '../errors.js';
import { rollBackTo } from '../deploy/go-live.js';
import { isFullSha } from '../git/ref-name.js';
import { currentRelease, listReleases, type Release } from '../deploy/releases.js';
import { strategyFor, type Version } from '../deploy/strategy.js';
import { requireOwnership } from '../host/ownership.js';
import { configureLogging, log } from '../log/logger.js';
import { appendHistory, readHistory, readState, writeState, type HistoryEntry, type TargetState } from '../state/store.js';
import { selectTargets } from './select.js';
import { withTargetLock } from './target-lock.js';
import type { Command } from 'commander';
import { configFrom, type CliContext } from './cli-context.js';
import { out } from '../log/console.js';

export interface RollbackOptions {
  config: Config;
  target: string;
  /** A release name, a full commit or a unique prefix of one (at least 7 hex digits). */
  to?: string;
}

export interface RollbackResult {
  target: string;
  from: string | null;
  to: string;
  release: string | null;
  paused: true;
  durationMs: number;
}

/** How far back a commit prefix is looked up: the newest entries only, so a huge history costs no more. */
const ROLLBACK_HISTORY = 10_000;

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : 'none');

/** Which version `rollback` goes to; pure, so every way of naming one is table-tested. */
export function chooseRollback(input: {
  target: string;
  strategy: Target['strategy'];
  state: TargetState;
  arg?: string;
  releases: readonly Release[];
  current: string | null;
  history: readonly HistoryEntry[];
}): Version {
  const { target, state, arg, releases, current } = input;
  const fail = (message: string, hint: string) => new UsageError(message, { target, hint });
  if (input.strategy === 'releases') {
    const others = releases.filter((r) => r.name !== current);
    if (arg === undefined) {
      const previous =
        others.find((r) => r.name === state.previousRelease) ?? [...others].reverse().find((r) => !current || r.name < current);
      if (!previous) throw fail('no previous release to roll back to', 'pollpray history shows what was deployed');
      return { sha: previous.sha, release: previous.name };
    }
    const byName = releases.find((r) => r.name === arg);
    const match = byName ?? (/^[0-9a-f]{7,64}$/.test(arg) ? [...releases].reverse().find((r) => r.sha.startsWith(arg)) : undefined);
    if (!match) throw fail(`no complete release named or with commit ${arg}`, `releases on disk: ${releases.map((r) => r.name).join(', ') || '(none)'}`);
    if (match.name === current) throw fail(`release ${match.name} is already current`, 'name another release, or run pollpray resume to follow the branch again');
    return { sha: match.sha, release: match.name };
  }
  if (arg === undefined) {
    if (!state.previousSha) throw fail('no previous deploy to roll back to', 'pollpray history shows what was deployed');
    return { sha: state.previousSha, release: null };
  }
  if (!/^[0-9a-f]{7,64}$/.test(arg)) throw fail(`${arg} is not a commit id`, 'give a commit from pollpray history (7 or more hex digits)');
  const deployed = [...new Set(input.history.filter((h) => h.result === 'deployed' && h.sha).map((h) => h.sha as string))];
  const matches = deployed.filter((sha) => sha.startsWith(arg));
  if (matches.length > 1) throw fail(`${arg} is ambiguous: ${matches.map(short).join(', ')}`, 'give more digits');
  const sha = matches[0] ?? (isFullSha(arg) ? arg : undefined);
  if (!sha) throw fail(`commit ${arg} was never deployed here`, 'give a full commit id, or one listed by pollpray history');
  if (sha === state.deployedSha) throw fail(`commit ${short(sha)} is already deployed`, 'name another commit, or run pollpray resume');
  return { sha, release: null };
}

export async function rollback(options: RollbackOptions): Promise<RollbackResult> {
  const { config } = options;
  const [target] = selectTargets(config, [options.target]);
  if (!target) throw new Error('unreachable: selectTargets returns the named target');
  requireOwnership(config, [target]);
  configureLogging(config.log);
  return withTargetLock(config, target, async (workDir) => {
    const started = Date.now();
    const loaded = readState(config.stateDir, target.name, target.branch);
    const { state } = loaded;
    if (loaded.movedAside) log.warn(`state file was corrupt (it ${loaded.why}), moved aside to ${loaded.movedAside}`, { target: target.name, step: 'state' });
    const strategy = strategyFor(target, workDir);
    const current = target.strategy === 'releases' ? currentRelease(target.path) : null;
    const to = chooseRollback({
      target: target.name,
      strategy: target.strategy,
      state,
      arg: options.to,
      releases: target.strategy === 'releases' ? listReleases(target.path) : [],
      current,
      history: readHistory(config.stateDir, target.name, ROLLBACK_HISTORY),
    });
    const fields = { target: target.name, commit: to.sha, step: 'rollback' };
    const from = state.deployedSha;
    const pausedReason = `rolled back by hand from ${short(from)} to ${short(to.sha)} at ${new Date().toISOString()}; pollpray resume ${target.name} follows the branch again`;
    // Paused first: whatever happens next, no cycle may redeploy the head in between.
    writeState(config.stateDir, { ...state, paused: true, pausedReason });
    log.warn(`manual rollback from ${short(from)} to ${to.release ? `release ${to.release}` : short(to.sha)}; target paused`, fields);

    let failure: PollprayError | undefined;
    try {
      await rollBackTo(config, target, strategy, workDir, to, from ?? to.sha);
    } catch (err) {
      if (!(err instanceof PollprayError)) throw err;
      failure = err;
    }
    const live = failure ? await strategy.liveCommit().catch(() => undefined) : to.sha;
    const moved = live === to.sha;
    writeState(config.stateDir, {
      ...state,
      paused: true,
      pausedReason,
      ...(moved
        ? {
            deployedSha: to.sha,
            previousSha: from,
            currentRelease: to.release,
            previousRelease: target.strategy === 'releases' ? current : null,
          }
        : {}),
      lastResult: failure ? 'failed' : 'rolled-back',
      lastError: failure ? `manual rollback: ${failure.oneLine()}` : null,
      rolledBack: moved,
    });
    appendHistory(config.stateDir, {
      time: new Date().toISOString(),
      target: target.name,
      result: failure ? 'failed' : 'rolled-back',
      sha: to.sha,
      previousSha: from,
      durationMs: Date.now() - started,
      rolledBack: moved,
      ...(to.release ? { release: to.release } : {}),
      ...(failure ? { error: `manual rollback: ${errorMessage(failure)}` } : {}),
    });
    if (failure) throw failure;
    log.info(`rolled back to ${short(to.sha)}; paused until pollpray resume ${target.name}`, fields);
    return { target: target.name, from, to: to.sha, release: to.release, paused: true, durationMs: Date.now() - started };
  }, { writesPath: true });
}

export function defineCommands(program: Command, _cli: CliContext): void {
  program
    .command('rollback')
    .description('go back to the previous deploy (or the named commit or release) and pause the target')
    .argument('<target>', 'target name')
    .argument('[commit|release]', 'a commit (7+ hex digits) or release name (default: the previous deploy)')
    .action(async (target: string, to: string | undefined, _opts: unknown, cmd: Command) => {
      const r = await rollback({ config: await configFrom(cmd), target, to });
      out(`${r.target}: rolled back to ${r.to.slice(0, 12)}${r.release ? ` (release ${r.release})` : ''} from ${r.from ? r.from.slice(0, 12) : 'none'}; paused until pollpray resume ${r.target}`);
    });
}
