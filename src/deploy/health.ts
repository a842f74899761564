/**
 * The health check after a restart: an HTTP GET (expected status, optional body text)
 * or a command (argv, through the exec door), retried `retries` times `interval` apart,
 * each attempt limited by `timeout`. Throws HealthCheckError with the last reason.
 */
import type { HealthSettings, Target } from '../config/normalise.js';
import { formatDuration } from '../duration.js';
import { HealthCheckError } from '../errors.js';
import { lastOutputLine, run } from '../exec/run.js';
import { log } from '../log/logger.js';

/** One attempt: undefined when healthy, otherwise why not (one line). */
export async function probeOnce(health: HealthSettings, cwd: string): Promise<string | undefined> {
  if (health.http) return probeHttp(health.http, health);
  const result = await run(health.command ?? [], { cwd, timeoutMs: health.timeoutMs, killLeftovers: true });
  if (result.timedOut) return `command timed out after ${formatDuration(health.timeoutMs)}`;
  if (result.spawnError) return `command could not start (${result.spawnError})`;
  if (result.exitCode !== 0) {
    const last = lastOutputLine(result);
    return `command exited with ${result.exitCode}${last ? `: ${last}` : ''}`;
  }
  return undefined;
}

async function probeHttp(url: string, health: HealthSettings): Promise<string | undefined> {
  try {
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(health.timeoutMs) });
    const body = await response.text();
    if (response.status !== health.expectStatus) return `${url} answered ${response.status}, expected ${health.expectStatus}`;
    if (health.body !== undefined && !body.includes(health.body)) return `${url} answered ${response.status} without "${health.body}" in the body`;
    return undefined;
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError') return `${url} did not answer within ${formatDuration(health.timeoutMs)}`;
    return `${url} unreachable (${e.cause?.code ?? e.message})`;
  }
}

/** Runs the target's health check with its retries; resolves when healthy, throws when not. */
export async function checkHealth(target: Target, cwd: string, commit: string): Promise<void> {
  const health = target.health;
  if (!health) return;
  const attempts = health.retries + 1;
  let reason = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const t0 = Date.now();
    const problem = await probeOnce(health, cwd);
    if (problem === undefined) {
      log.info(`healthy (attempt ${attempt}/${attempts})`, { target: target.name, commit, step: 'health', durationMs: Date.now() - t0 });
      return;
    }
    reason = problem;
    log.warn(`unhealthy (attempt ${attempt}/${attempts}): ${problem}`, { target: target.name, commit, step: 'health' });
    if (attempt < attempts) await new Promise((r) => setTimeout(r, health.intervalMs));
  }
  throw new HealthCheckError(`health check failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${reason}`, {
    target: target.name,
    hint: 'see the log for each attempt; fix the app and push a new commit (or raise health.retries/timeout if it only starts slowly)',
  });
}
