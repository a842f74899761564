/**
 * What happens once every target's cycle is over: record each outcome (deploy
 * counters, notified problems), send the notifications it causes, write the metrics
 * file and ping the heartbeat. Runs after the cycles, outside their locks, and can
 * never change the run's result: every failure here is logged and the run goes on.
 * Notifications and the heartbeat go out in parallel, so the run waits at most the
 * longest single timeout.
 */
import { hostname } from 'node:os';
import type { Config, NotifyEvent, Target } from '../config/normalise.js';
import type { TargetOutcome } from '../deploy/cycle.js';
import { errorMessage } from '../errors.js';
import { log } from '../log/logger.js';
import { updateSignals } from '../state/store.js';
import { deliver } from './deliver.js';
import { DEPLOY_RESULTS, eventsFor } from './events.js';
import { pingHeartbeat } from './heartbeat.js';
import { writeMetrics } from './metrics.js';
import { payloadFor } from './payload.js';

export interface FinishedOutcome {
  outcome: TargetOutcome;
  /** When the cycle ended (ms since epoch): orders outcomes of overlapping runs. */
  finishedAt: number;
}

export interface AfterRunInput {
  config: Config;
  finished: FinishedOutcome[];
  failed: boolean;
  started: number;
}

export async function afterRun({ config, finished, failed, started }: AfterRunInput): Promise<void> {
  const host = hostname();
  const sends: Promise<unknown>[] = [];
  // Each target's bookkeeping has its own lock and file: all of them at once, so twenty
  // unchanged targets do not wait on each other's fsyncs.
  const known = finished.flatMap(({ outcome, finishedAt }) => {
    const target = config.targets.find((t) => t.name === outcome.target);
    return target ? [{ target, outcome, finishedAt }] : [];
  });
  const recorded = await Promise.all(known.map(({ outcome, finishedAt }) => record(config, outcome, finishedAt)));
  known.forEach(({ target, outcome }, i) => {
    for (const event of recorded[i] ?? []) sends.push(...notify(config, target, outcome, event, host));
  });
  if (config.metricsFile) {
    try {
      writeMetrics(config, config.metricsFile, Date.now() - started, new Date());
    } catch (err) {
      log.error(`metrics file ${config.metricsFile} not written: ${errorMessage(err)}`, { step: 'metrics' });
    }
  }
  if (config.heartbeatUrl) {
    const summary = finished.map(({ outcome: o }) => `${o.target}: ${o.result}${o.error ? `: ${o.error.oneLine()}` : ''}`).join('\n');
    sends.push(pingHeartbeat(config.heartbeatUrl, failed, summary, config.heartbeatTimeoutMs));
  }
  await Promise.allSettled(sends);
}

/** Counts the outcome and decides its events, under the signals lock. */
async function record(config: Config, outcome: TargetOutcome, finishedAt: number): Promise<NotifyEvent[]> {
  try {
    return await updateSignals(config.stateDir, outcome.target, (signals) => {
      const next = { ...signals, deploys: { ...signals.deploys } };
      if ((DEPLOY_RESULTS as readonly string[]).includes(outcome.result)) {
        next.deploys[outcome.result] = (next.deploys[outcome.result] ?? 0) + 1;
        next.lastDeployDurationMs = outcome.durationMs;
      }
      // An overlapping run already recorded a later outcome: counting this one is right,
      // letting it reopen or close a problem is not.
      if (finishedAt < signals.updatedAt) return { signals: next, value: [] };
      const decision = eventsFor(outcome.quarantined ? 'quarantined' : outcome.result, outcome.sha, signals.openProblem);
      return { signals: { ...next, openProblem: decision.open, updatedAt: finishedAt }, value: decision.events };
    });
  } catch (err) {
    log.warn(`outcome not recorded for notifications and metrics: ${errorMessage(err)}`, { target: outcome.target, step: 'notify' });
    return [];
  }
}

function notify(config: Config, target: Target, outcome: TargetOutcome, event: NotifyEvent, host: string): Promise<boolean>[] {
  const payload = payloadFor(event, target, outcome, host, new Date());
  return config.notify.filter((n) => n.on.includes(event)).map((n) => deliver(n, payload, config.file));
}
