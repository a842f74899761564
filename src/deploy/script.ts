/**
 * Runs the target's deploy script: cwd = the new code, the documented POLLPRAY_*
 * environment, deploy_timeout, output streamed into the log line by line, and the
 * whole process group killed on timeout and when the script exits.
 */
import { accessSync, constants } from 'node:fs';
import type { Target } from '../config/normalise.js';
import { DeployScriptError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { beginRunning, clearRunning, recordRunning, SCRIPT_ID_VAR } from '../exec/leftovers.js';
import { lastOutputLine, run } from '../exec/run.js';
import { commandProblems, scriptPath, scriptStartProblem } from '../host/script-start.js';
import { currentUser } from '../host/users.js';
import { log } from '../log/logger.js';

export interface ScriptContext {
  oldSha: string | null;
  newSha: string;
  /** The tag deployed, for a target that tracks tags. */
  tag?: string;
  releaseDir: string;
  dryRun: boolean;
  /** Where the running script's process group is recorded for the next run to end. */
  workDir: string;
  /** Set when the script rebuilds a previous commit to roll back (in-place). */
  rollback?: boolean;
  /** The commit's subject: text from the repository, so only ever an environment value. */
  subject?: string;
}

export function scriptEnv(target: Target, ctx: ScriptContext): Record<string, string> {
  return {
    ...target.env,
    POLLPRAY_TARGET: target.name,
    POLLPRAY_OLD_SHA: ctx.oldSha ?? '',
    POLLPRAY_NEW_SHA: ctx.newSha,
    POLLPRAY_BRANCH: target.tags === undefined ? target.branch : '',
    POLLPRAY_TAG: ctx.tag ?? '',
    POLLPRAY_RELEASE_DIR: ctx.releaseDir,
    POLLPRAY_REPO_DIR: target.path,
    POLLPRAY_DRY_RUN: ctx.dryRun ? '1' : '0',
    POLLPRAY_ROLLBACK: ctx.rollback ? '1' : '0',
    POLLPRAY_SUBJECT: ctx.subject ?? '',
  };
}

/**
 * Before the code moves: a deploy script, step or health check that cannot start fails
 * the deploy while the live code is still the old one (in-place would otherwise reset the
 * checkout and then need a rollback that cannot run the script either). The programs are
 * the config's (the host's), not the commit's: a host fault, never counted against it.
 */
export function requireRunnable(target: Target): void {
  requireRunnableScript(target);
  const [command] = commandProblems(target);
  if (command) throw new DeployScriptError(`${command.what}: ${command.detail}`, { target: target.name, hint: command.fix, fault: 'host' });
}

/** The deploy script alone: also asked again just before it runs (a rollback's rebuild). */
function requireRunnableScript(target: Target): void {
  const script = target.deploy;
  if (!script) return;
  try {
    accessSync(script, constants.X_OK);
  } catch (cause) {
    throw new DeployScriptError(`deploy script ${script} is missing or not executable by ${currentUser()}`, {
      target: target.name,
      hint: `chmod +x ${script}, or fix targets.${target.name}.deploy in the config`,
      cause,
      fault: 'host',
    });
  }
  const problem = scriptStartProblem(script, scriptPath(target), `targets.${target.name}.env.PATH`);
  if (problem) throw new DeployScriptError(`deploy script ${problem.detail}`, { target: target.name, hint: problem.fix, fault: 'host' });
}

export async function runDeployScript(target: Target, ctx: ScriptContext): Promise<void> {
  const script = target.deploy;
  if (!script) return;
  requireRunnableScript(target);
  const fields = { target: target.name, commit: ctx.newSha, step: 'script' };
  const id = beginRunning(ctx.workDir);
  const result = await run([script], {
    cwd: ctx.releaseDir,
    timeoutMs: target.deployTimeoutMs,
    env: { ...scriptEnv(target, ctx), [SCRIPT_ID_VAR]: id },
    killLeftovers: true,
    onSpawn: (pgid) => recordRunning(ctx.workDir, id, pgid),
    onLine: (line, stream) => (stream === 'stderr' ? log.warn(line, fields) : log.info(line, fields)),
  });
  clearRunning(ctx.workDir);
  if (result.timedOut) {
    throw new DeployScriptError(`deploy script timed out after ${formatDuration(target.deployTimeoutMs)} and was killed with its children`, {
      target: target.name,
      hint: 'make the script finish faster or raise deploy_timeout',
    });
  }
  if (result.spawnError) {
    throw new DeployScriptError(`deploy script ${script} could not start (${result.spawnError})`, {
      target: target.name,
      hint: 'check its #! line and that it is executable',
      fault: 'host',
    });
  }
  if (result.exitCode !== 0) {
    const last = lastOutputLine(result);
    throw new DeployScriptError(
      `deploy script exited with ${result.signal ?? result.exitCode}${last ? `: ${last}` : ''}`,
      { target: target.name, hint: 'see the log for its full output; fix and push a new commit' },
    );
  }
}
