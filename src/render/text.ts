/**
 * Human renderings of command results. Commands return data; only these functions
 * turn it into lines, so `--json` and text always describe the same thing.
 */
import { FAILED_RESULTS, type RunReport } from '../commands/run.js';
import type { HistoryReport } from '../commands/history.js';
import type { FleetStatusReport } from '../commands/fleet-status.js';
import type { StatusReport } from '../commands/status.js';
import type { TargetOutcome } from '../deploy/cycle.js';
import { formatDuration } from '../duration.js';
import { dirProblemLine } from '../config/file-trust.js';

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
    .filter((o) => FAILED_RESULTS.has(o.result) || (o.result === 'skipped' && o.error))
    .map((o) => (o.error ? o.error.oneLine() : `${o.target}: ${o.result}: ${o.detail ?? ''}`));
}

export function statusLines(report: StatusReport): string[] {
  // A state dir others can write is not read: each target's state is unknown, the problem said once below.
  const unread = report.problems.some((p) => p.key === 'state_dir');
  const rows = report.targets.map((t) => [
    t.target,
    t.branch ?? `tags ${t.tags}`,
    short(t.deployed_commit),
    unread ? 'not read' : (t.last_result ?? 'never run'),
    t.last_check ? t.last_check.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-',
    t.paused ? 'paused' : t.quarantined ? 'quarantined' : t.host_fault ? 'host fault' : '',
  ]);
  const header = ['TARGET', 'FOLLOWS', 'DEPLOYED', 'LAST RESULT', 'LAST CHECK', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const lines = [fmt(header), ...rows.map(fmt), ...report.problems.map(dirProblemLine)];
  for (const t of report.targets) {
    // Errors are recorded as "<target>: <message> (fix: …)"; show the target once.
    // A host fault holds the target until the host is fixed: its error carries that fix.
    if (t.last_error && !unread) lines.push(`  ${t.target}: ${t.host_fault ? 'held by a host fault' : 'last error'}: ${t.last_error.replace(`${t.target}: `, '')}`);
    if (t.paused && t.paused_reason) lines.push(`  ${t.target}: paused: ${t.paused_reason}`);
    if (t.quarantined) {
      lines.push(`  ${t.target}: commit ${short(t.remote_commit)} quarantined after ${t.failed_attempts} failed attempts; waiting for a new commit (or pollpray run --force ${t.target})`);
    } else if (t.next_retry) {
      lines.push(`  ${t.target}: commit ${short(t.remote_commit)} failed ${t.failed_attempts} time${t.failed_attempts === 1 ? '' : 's'}; next retry at ${t.next_retry}`);
    }
    if (t.rolled_back && t.last_result === 'failed') lines.push(`  ${t.target}: rolled back: still serving ${short(t.deployed_commit)}`);
  }
  return lines;
}

export function historyLines(report: HistoryReport): string[] {
  const rows = report.entries.map((e) => [
    e.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    e.target,
    e.result + (e.rolled_back && e.result === 'failed' ? ' (rolled back)' : ''),
    short(e.commit),
    short(e.previous_commit),
    formatDuration(e.duration_ms),
    e.subject ?? '',
  ]);
  const header = ['TIME', 'TARGET', 'RESULT', 'COMMIT', 'PREVIOUS', 'DURATION', 'SUBJECT'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const lines = [fmt(header)];
  report.entries.forEach((e, i) => {
    lines.push(fmt(rows[i] ?? []));
    if (e.error) lines.push(`  ${e.error}`);
  });
  return [...lines, ...report.problems.map(dirProblemLine)];
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
