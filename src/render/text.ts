/**
 * Human renderings of command results. Commands return data; only these functions
 * turn it into lines, so `--json` and text always describe the same thing.
 */
import type { RunReport } from '../commands/run.js';
import type { FleetStatusReport } from '../commands/fleet-status.js';
import type { StatusReport } from '../commands/status.js';
import type { TargetOutcome } from '../deploy/cycle.js';
import { formatDuration } from '../duration.js';

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : '-');

export function outcomeLine(o: TargetOutcome, dryRun: boolean): string {
  const took = formatDuration(o.durationMs);
  switch (o.result) {
    case 'deployed':
      return dryRun
        ? `${o.target}: ${o.detail ?? 'would deploy'}`
        : `${o.target}: deployed ${short(o.sha)} (was ${short(o.previousSha)}) in ${took}`;
    case 'unchanged':
      return `${o.target}: up to date at ${short(o.sha)}`;
    case 'skipped':
      return `${o.target}: skipped (${o.detail ?? 'nothing to do'})`;
    default:
      return `${o.target}: ${o.result}: ${o.error?.oneLine() ?? o.detail ?? 'see the log'}`;
  }
}

/** Lines for stderr: only what needs a human, one line each. */
export function problemLines(report: RunReport): string[] {
  return report.outcomes
    // A skip that carries an error (fleet: Redis unreachable, commit bad on a canary) needs a human too.
    .filter((o) => o.result === 'failed' || o.result === 'error' || o.result === 'refused' || (o.result === 'skipped' && o.error))
    .map((o) => (o.error ? o.error.oneLine() : `${o.target}: ${o.result}: ${o.detail ?? ''}`));
}

export function statusLines(report: StatusReport): string[] {
  const rows = report.targets.map((t) => [
    t.target,
    t.branch,
    short(t.deployed_commit),
    t.last_result ?? 'never run',
    t.last_check ? t.last_check.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-',
    t.paused ? 'paused' : '',
  ]);
  const header = ['TARGET', 'BRANCH', 'DEPLOYED', 'LAST RESULT', 'LAST CHECK', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const lines = [fmt(header), ...rows.map(fmt)];
  for (const t of report.targets) if (t.last_error) lines.push(`  ${t.target}: last error: ${t.last_error}`);
  return lines;
}

export function fleetStatusLines(report: FleetStatusReport): string[] {
  const lines: string[] = [`group ${report.group} on ${report.redis} (this host: ${report.host_id})`];
  for (const t of report.targets) {
    const busy = t.slots.filter((s) => s !== null);
    lines.push('', `${t.target}: ${t.hosts.length} host${t.hosts.length === 1 ? '' : 's'}, deploying now: ${busy.length ? busy.join(', ') : 'none'} (max_in_flight ${t.max_in_flight})`);
    const rows = t.hosts.map((h) => [
      h.host,
      h.canary ? 'canary' : '',
      short(h.commit),
      h.result ?? '-',
      formatDuration(h.age_seconds * 1000) + ' ago',
      h.stale ? 'STALE' : '',
    ]);
    const header = ['HOST', 'ROLE', 'COMMIT', 'RESULT', 'REPORTED', ''];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
    lines.push(fmt(header), ...rows.map(fmt));
    for (const h of t.hosts) {
      if (h.pending) lines.push(`  ${h.host}: holding ${short(h.pending.commit)}: ${h.pending.reason}`);
      else if (h.error) lines.push(`  ${h.host}: ${h.error}`);
    }
  }
  return lines;
}
