/**
 * Which notifications an outcome causes, as a pure function of the outcome and what
 * was notified before (table-tested in test/unit/notify-events.test.ts).
 *
 * A problem (failed, refused, unverified, quarantined) is notified once per kind and
 * commit: a target failing every cycle on the same commit notifies once, a new commit
 * that fails notifies again. The first good outcome after a notified problem sends
 * `recovered`, once. `deployed` is sent for every deploy.
 */
import type { NotifyEvent } from '../config/normalise.js';
import type { OpenProblem } from '../state/store.js';

/** Cycle results that are a problem, and the event each one is. `error` (remote unreachable) is a failure too. */
const PROBLEMS: Record<string, NotifyEvent> = {
  failed: 'failed',
  error: 'failed',
  refused: 'refused',
  unverified: 'unverified',
  quarantined: 'quarantined',
};

const GOOD = new Set(['deployed', 'unchanged']);

/** Results that count as a deploy attempt for the metrics counter and its duration. */
export const DEPLOY_RESULTS = ['deployed', 'failed', 'refused', 'unverified', 'quarantined'] as const;

export interface EventDecision {
  events: NotifyEvent[];
  open: OpenProblem | null;
}

export function eventsFor(result: string, sha: string | null, open: OpenProblem | null): EventDecision {
  const problem = PROBLEMS[result];
  if (problem) {
    if (open && open.event === problem && open.sha === sha) return { events: [], open };
    return { events: [problem], open: { event: problem, sha } };
  }
  if (GOOD.has(result)) {
    const events: NotifyEvent[] = [];
    if (result === 'deployed') events.push('deployed');
    if (open) events.push('recovered');
    return { events, open: null };
  }
  // skipped (lock busy, paused): says nothing about the target's health.
  return { events: [], open };
}
