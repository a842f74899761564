/**
 * Sends one payload to one notifier: a webhook (JSON POST) or a command hook (argv
 * through the process door, event in the environment, JSON on stdin). Each delivery
 * has its own timeout; a failure is logged and never thrown, so a broken notifier
 * can neither fail a run nor hold it past that timeout.
 */
import { dirname } from 'node:path';
import type { NotifySettings } from '../config/normalise.js';
import { formatDuration } from '../duration.js';
import { run } from '../exec/run.js';
import { log } from '../log/logger.js';
import { hostOf, post } from './http.js';
import { payloadEnv, type NotifyPayload } from './payload.js';

/** How logs name a notifier: never its URL (a Slack webhook URL is a credential). */
export function notifierName(n: NotifySettings): string {
  return n.webhook ? `webhook ${hostOf(n.webhook)}` : `command ${n.command?.[0] ?? '?'}`;
}

export async function deliver(n: NotifySettings, payload: NotifyPayload, configFile: string): Promise<boolean> {
  const fields = { target: payload.target, commit: payload.commit ?? undefined, step: 'notify' };
  const started = Date.now();
  let failure: string | undefined;
  if (n.webhook) {
    const res = await post(n.webhook, JSON.stringify(payload), 'application/json', n.timeoutMs);
    if (!res.ok) failure = res.detail;
  } else if (n.command) {
    const result = await run(n.command, {
      cwd: dirname(configFile),
      timeoutMs: n.timeoutMs,
      env: payloadEnv(payload),
      input: `${JSON.stringify(payload)}\n`,
      killLeftovers: true,
      killGraceMs: 500,
      onLine: (line) => log.info(line, fields),
    });
    if (result.timedOut) failure = `timed out after ${formatDuration(n.timeoutMs)} and was killed`;
    else if (result.spawnError) failure = `could not start (${result.spawnError})`;
    else if (result.exitCode !== 0) failure = `exited with ${result.signal ?? result.exitCode}`;
  }
  const durationMs = Date.now() - started;
  if (failure) {
    log.warn(`notify ${payload.event} via ${notifierName(n)} failed: ${failure} (the run goes on)`, { ...fields, durationMs });
    return false;
  }
  log.info(`notified ${payload.event} via ${notifierName(n)}`, { ...fields, durationMs });
  return true;
}
