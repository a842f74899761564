/**
 * Pipelines: a target's `steps:` run in order in the new code's directory, each with
 * its own timeout and environment, each followed by its on_success or on_failure
 * handler (a command, or a notification message logged and optionally POSTed). The
 * first failing step stops the pipeline and fails the deploy. Text from the
 * repository (branch, tag, commit subject, step output) reaches commands only as the
 * fixed POLLPRAY_* variables, never as arguments or other env values (template.ts).
 */
import { isAbsolute, relative } from 'node:path';
import type { PipelineStep, StepHandler, Target } from '../config/normalise.js';
import { DeployScriptError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { beginRunning, clearRunning, recordRunning, SCRIPT_ID_VAR } from '../exec/leftovers.js';
import { lastOutputLine, run, type RunResult } from '../exec/run.js';
import { commitSubject } from '../git/checkout.js';
import { log } from '../log/logger.js';
import { runDeployScript, scriptEnv, type ScriptContext } from './script.js';
import { redactDeep } from '../log/redact.js';
import { renderArgv, renderPlain, renderTemplate, type TemplateValues } from './template.js';

/** What `{{step.output}}` holds: the tail of the step's output, enough for a message. */
const STEP_OUTPUT_CHARS = 2000;
const HANDLER_TIMEOUT_MS = 60_000;

/** The one call the cycle makes after the code moved: the pipeline when there is one, else the deploy script. */
export async function runDeployment(target: Target, ctx: ScriptContext): Promise<void> {
  if (target.steps) await runPipeline(target, target.steps, ctx);
  else await runDeployScript(target, ctx);
}

function describeFailure(result: RunResult, timeoutMs: number): string {
  if (result.timedOut) return `timed out after ${formatDuration(timeoutMs)} and was killed with its children`;
  if (result.spawnError) return `could not start (${result.spawnError})`;
  const last = lastOutputLine(result);
  return `exited with ${result.signal ?? result.exitCode}${last ? `: ${last}` : ''}`;
}

export async function runPipeline(target: Target, steps: readonly PipelineStep[], ctx: ScriptContext): Promise<void> {
  const subject = ctx.subject ?? (await commitSubject(target, ctx.newSha).catch(() => undefined)) ?? '';
  const base: TemplateValues = {
    target: target.name,
    sha: ctx.newSha,
    short_sha: ctx.newSha.slice(0, 12),
    branch: target.tags === undefined ? target.branch : '',
    tag: ctx.tag ?? '',
    previous_sha: ctx.oldSha ?? '',
    subject,
  };
  const env = scriptEnv(target, { ...ctx, subject });

  for (const step of steps) {
    const fields = { target: target.name, commit: ctx.newSha, step: `step ${step.name}` };
    const values: TemplateValues = { ...base, 'step.name': step.name };
    const stepEnv = { ...env, POLLPRAY_STEP: step.name, ...renderEnv(step.env, values, target.name) };
    const t0 = Date.now();
    const id = beginRunning(ctx.workDir);
    const result = await run(renderArgv(step.run, values, target.name), {
      cwd: ctx.releaseDir,
      timeoutMs: step.timeoutMs,
      env: { ...stepEnv, [SCRIPT_ID_VAR]: id },
      killLeftovers: true,
      onSpawn: (pgid) => recordRunning(ctx.workDir, id, pgid),
      onLine: (line, stream) => (stream === 'stderr' ? log.warn(line, fields) : log.info(line, fields)),
    });
    clearRunning(ctx.workDir);
    const ok = result.exitCode === 0 && !result.timedOut && !result.spawnError;
    const output = `${result.stdout}${result.stderr}`.trim().slice(-STEP_OUTPUT_CHARS);
    const done = { ...values, 'step.output': output };
    const handlerEnv = { ...stepEnv, POLLPRAY_STEP_RESULT: ok ? 'success' : 'failure', POLLPRAY_STEP_OUTPUT: output };
    if (ok) {
      log.info(`step succeeded`, { ...fields, durationMs: Date.now() - t0 });
      if (step.onSuccess) await runHandler(step.onSuccess, 'success', done, handlerEnv, ctx, fields);
      continue;
    }
    const why = describeFailure(result, step.timeoutMs);
    log.error(`step failed: ${why}`, { ...fields, durationMs: Date.now() - t0 });
    if (step.onFailure) await runHandler(step.onFailure, 'failure', done, handlerEnv, ctx, fields);
    // A step program from the config (outside the new code) that cannot start is the host's
    // fault; one shipped in the commit, or one that ran and failed, is the commit's.
    const program = step.run[0] ?? '';
    const hostProgram = !!result.spawnError && isAbsolute(program) && relative(ctx.releaseDir, program).startsWith('..');
    throw new DeployScriptError(`step "${step.name}" ${why}`, {
      target: target.name,
      hint: hostProgram ? `check that ${program} exists and is executable (chmod +x), or fix the step's run: in the config` : 'see the log for its full output; fix and push a new commit',
      fault: hostProgram ? 'host' : 'commit',
    });
  }
}

function renderEnv(env: Record<string, string>, values: TemplateValues, target: string): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, renderPlain(v, values, target, `the variable ${k}`)]));
}

/**
 * A handler's own failure is logged and does not change the deploy's result: it
 * reports on the step, and a broken chat webhook must not fail a good deploy.
 */
async function runHandler(
  handler: StepHandler,
  result: 'success' | 'failure',
  values: TemplateValues,
  env: Record<string, string>,
  ctx: ScriptContext,
  fields: Record<string, string>,
): Promise<void> {
  const hfields = { ...fields, step: `${fields.step} on_${result}` };
  if (handler.run) {
    const r = await run(renderArgv(handler.run, values, fields.target ?? ''), {
      cwd: ctx.releaseDir,
      timeoutMs: HANDLER_TIMEOUT_MS,
      env,
      killLeftovers: true,
      onLine: (line) => log.info(line, hfields),
    });
    if (r.exitCode !== 0 || r.timedOut || r.spawnError) log.warn(`handler ${describeFailure(r, HANDLER_TIMEOUT_MS)}`, hfields);
    return;
  }
  const message = renderTemplate(handler.message ?? '', values);
  if (result === 'success') log.info(message, hfields);
  else log.warn(message, hfields);
  if (handler.webhook) await postMessage(handler.webhook, message, values, result, hfields);
}

/** `{"text": ...}` is what Slack, Mattermost, Rocket.Chat and Discord-compatible relays read. */
async function postMessage(url: string, text: string, values: TemplateValues, result: string, fields: Record<string, string>): Promise<void> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // The same redactor as every other output: the message may quote the step's output or the subject.
      body: JSON.stringify(redactDeep({ text, target: values.target, sha: values.sha, step: values['step.name'], result })),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) log.warn(`message webhook answered ${res.status}`, fields);
  } catch (err) {
    log.warn(`message webhook failed: ${err instanceof Error ? err.message : String(err)}`, fields);
  }
}
