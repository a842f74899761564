/**
 * What a notification says. One payload serves the webhook (JSON body, with `text`
 * for Slack, Mattermost and similar) and command hooks (the same fields as POLLPRAY_*
 * variables). Every string is redacted before it leaves the host.
 */
import type { NotifyEvent, Target } from '../config/normalise.js';
import type { TargetOutcome } from '../deploy/cycle.js';
import { formatDuration } from '../duration.js';
import { redactDeep } from '../log/redact.js';

export interface NotifyPayload {
  /** One human line; Slack-compatible incoming webhooks show this. */
  text: string;
  event: NotifyEvent;
  target: string;
  host: string;
  repo: string;
  branch: string;
  commit: string | null;
  previous_commit: string | null;
  /** Why (the error with its fix, or the detail); null for a plain deploy. */
  message: string | null;
  duration_ms: number;
  time: string;
}

const short = (sha: string | null) => (sha ? sha.slice(0, 12) : 'none');

export function payloadFor(event: NotifyEvent, target: Target, outcome: TargetOutcome, host: string, time: Date): NotifyPayload {
  const message = outcome.error?.oneLine() ?? outcome.detail ?? null;
  const at = outcome.sha ? ` at ${short(outcome.sha)}` : '';
  const why = message ? `: ${message}` : '';
  const texts: Record<NotifyEvent, string> = {
    deployed: `deployed ${short(outcome.sha)} (was ${short(outcome.previousSha)}) in ${formatDuration(outcome.durationMs)}`,
    failed: `FAILED${at}${why}`,
    recovered: `recovered: ${outcome.result === 'deployed' ? `deployed ${short(outcome.sha)}` : `up to date at ${short(outcome.sha)}`}`,
    refused: `refused${at}${why}`,
    unverified: `NOT deployed, signature check failed${at}${why}`,
    quarantined: `quarantined${at}${why}`,
  };
  return redactDeep({
    text: `[pollpray] ${target.name} on ${host}: ${texts[event]}`,
    event,
    target: target.name,
    host,
    repo: target.repo,
    branch: target.branch,
    commit: outcome.sha,
    previous_commit: outcome.previousSha,
    message,
    duration_ms: outcome.durationMs,
    time: time.toISOString(),
  });
}

/** The payload as POLLPRAY_* variables for a command hook (strings only; absent = empty). */
export function payloadEnv(p: NotifyPayload): Record<string, string> {
  return {
    POLLPRAY_EVENT: p.event,
    POLLPRAY_TARGET: p.target,
    POLLPRAY_HOST: p.host,
    POLLPRAY_REPO: p.repo,
    POLLPRAY_BRANCH: p.branch,
    POLLPRAY_COMMIT: p.commit ?? '',
    POLLPRAY_PREVIOUS_COMMIT: p.previous_commit ?? '',
    POLLPRAY_MESSAGE: p.message ?? '',
    POLLPRAY_TEXT: p.text,
    POLLPRAY_TIME: p.time,
  };
}
