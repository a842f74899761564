import type { Config } from '../config/normalise.js';
import { readState, writeState } from '../state/store.js';
import { selectTargets } from './select.js';
import { withTargetLock } from './target-lock.js';
import type { Command } from 'commander';
import { configFrom, type CliContext } from './cli-context.js';
import { out } from '../log/console.js';

export interface PauseOptions {
  config: Config;
  target: string;
  /** true: pause; false: resume. */
  paused: boolean;
  reason?: string;
}

export interface PauseResult {
  target: string;
  paused: boolean;
  /** False when the target already was in that state (and nothing was written). */
  changed: boolean;
  /** Why it is paused now (kept from before when it already was). */
  reason: string | null;
}

/** `pause` / `resume`: a paused target is skipped by every run until resumed (run --force overrides). */
export async function setPaused(options: PauseOptions): Promise<PauseResult> {
  const [target] = selectTargets(options.config, [options.target]);
  if (!target) throw new Error('unreachable: selectTargets returns the named target');
  return withTargetLock(options.config, target, async () => {
    const { state } = readState(options.config.stateDir, target.name, target.branch);
    const changed = state.paused !== options.paused;
    // Pausing a paused target changes nothing: the reason it has (a rollback's, say) stays.
    if (!changed) return { target: target.name, paused: options.paused, changed, reason: state.pausedReason };
    const reason = options.paused ? (options.reason ?? `paused by hand at ${new Date().toISOString()}`) : null;
    writeState(options.config.stateDir, { ...state, paused: options.paused, pausedReason: reason });
    return { target: target.name, paused: options.paused, changed, reason };
  });
}

export function defineCommands(program: Command, _cli: CliContext): void {
  program
    .command('pause')
    .description('stop deploying a target until resume (run --force still deploys)')
    .argument('<target>', 'target name')
    .action(async (target: string, _opts: unknown, cmd: Command) => {
      const r = await setPaused({ config: await configFrom(cmd, 'dirs'), target, paused: true });
      out(`${r.target}: ${r.changed ? 'paused' : `was already paused${r.reason ? ` (${r.reason})` : ''}`}`);
    });

  program
    .command('resume')
    .description('deploy a paused target again from the next run on')
    .argument('<target>', 'target name')
    .action(async (target: string, _opts: unknown, cmd: Command) => {
      const r = await setPaused({ config: await configFrom(cmd, 'dirs'), target, paused: false });
      out(`${r.target}: ${r.changed ? 'resumed: the next run deploys the branch head' : 'was not paused'}`);
    });
}
