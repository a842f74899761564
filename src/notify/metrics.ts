/**
 * The Prometheus textfile-collector file (text exposition format 0.0.4): rendered by a
 * pure function from every configured target's state, so a run of one target still
 * writes a complete file, and replaced atomically so node_exporter never reads half.
 */
import type { Config } from '../config/normalise.js';
import { emptyState, readSignals, readState, writeFileAtomic, type TargetSignals, type TargetState } from '../state/store.js';
import { FAILED_RESULTS } from '../commands/run.js';
import { DEPLOY_RESULTS } from './events.js';

export interface TargetMetrics {
  state: TargetState;
  signals: TargetSignals;
}

export interface MetricsInput {
  targets: TargetMetrics[];
  runDurationMs: number;
  runFinished: Date;
}

/** Label values escape backslash, double quote and newline (the format's only escapes). */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

const seconds = (ms: number) => String(ms / 1000);
const unix = (iso: string | null) => (iso ? seconds(Date.parse(iso)) : undefined);

interface Family {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: Array<[labels: Record<string, string>, value: string | undefined]>;
}

export function renderMetrics(input: MetricsInput): string {
  const per = <T>(f: (t: TargetMetrics) => T) => input.targets.map(f);
  const families: Family[] = [
    {
      name: 'pollpray_last_check_timestamp_seconds',
      help: 'Unix time of the target\'s last check of its remote branch.',
      type: 'gauge',
      samples: per((t) => [{ target: t.state.target }, unix(t.state.lastCheck)]),
    },
    {
      name: 'pollpray_last_success_timestamp_seconds',
      help: 'Unix time the target was last deployed or found up to date.',
      type: 'gauge',
      samples: per((t) => [{ target: t.state.target }, unix(t.state.lastSuccess)]),
    },
    {
      name: 'pollpray_deployed_commit_info',
      help: 'The commit deployed for the target (always 1; the commit is a label).',
      type: 'gauge',
      samples: per((t) => [{ target: t.state.target, branch: t.state.branch, commit: t.state.deployedSha ?? '' }, t.state.deployedSha ? '1' : undefined]),
    },
    {
      name: 'pollpray_target_failing',
      help: 'Whether the target\'s last cycle failed (failed, error, refused, unverified, quarantined).',
      type: 'gauge',
      samples: per((t) => [{ target: t.state.target }, t.state.lastResult ? (FAILED_RESULTS.has(t.state.lastResult) ? '1' : '0') : undefined]),
    },
    {
      name: 'pollpray_deploy_duration_seconds',
      help: 'Duration of the target\'s last deploy attempt.',
      type: 'gauge',
      samples: per((t) => [{ target: t.state.target }, t.signals.lastDeployDurationMs === null ? undefined : seconds(t.signals.lastDeployDurationMs)]),
    },
    {
      name: 'pollpray_deploys_total',
      help: 'Deploy attempts of the target by result.',
      type: 'counter',
      samples: input.targets.flatMap((t) => DEPLOY_RESULTS.map((result): Family['samples'][number] => [{ target: t.state.target, result }, String(t.signals.deploys[result] ?? 0)])),
    },
    {
      name: 'pollpray_run_duration_seconds',
      help: 'Duration of pollpray\'s last run.',
      type: 'gauge',
      samples: [[{}, seconds(input.runDurationMs)]],
    },
    {
      name: 'pollpray_last_run_timestamp_seconds',
      help: 'Unix time pollpray\'s last run finished.',
      type: 'gauge',
      samples: [[{}, seconds(input.runFinished.getTime())]],
    },
  ];
  const lines: string[] = [];
  for (const f of families) {
    const present = f.samples.filter(([, v]) => v !== undefined);
    if (present.length === 0) continue;
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const [labels, value] of present) {
      const pairs = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`);
      lines.push(`${f.name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function writeMetrics(config: Config, file: string, runDurationMs: number, runFinished: Date): void {
  const targets = config.targets.map((t) => {
    let state: TargetState;
    try {
      state = readState(config.stateDir, t.name, t.branch, { readOnly: true }).state;
    } catch {
      state = emptyState(t.name, t.branch);
    }
    return { state, signals: readSignals(config.stateDir, t.name, { readOnly: true }) };
  });
  // 0644: node_exporter runs as its own user and only needs to read it.
  writeFileAtomic(file, renderMetrics({ targets, runDurationMs, runFinished }), 0o644);
}
