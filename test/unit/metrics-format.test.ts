import { describe, expect, it } from 'vitest';
import { renderMetrics } from '../../src/notify/metrics.js';
import { emptyState, type TargetSignals } from '../../src/state/store.js';
import { parsePromText } from '../helpers/prom-text.js';

const signals = (target: string, patch: Partial<TargetSignals> = {}): TargetSignals => ({
  version: 1,
  target,
  openProblem: null,
  deploys: {},
  lastDeployDurationMs: null,
  updatedAt: 0,
  ...patch,
});

describe('the strict text-format parser (so the metrics test can fail)', () => {
  it.each([
    ['no final newline', 'a 1'],
    ['a timestamp', 'a 1 1700000000000\n'],
    ['an unquoted label', 'a{t=x} 1\n'],
    ['a bad escape', 'a{t="\\q"} 1\n'],
    ['a duplicate series', 'a{t="x"} 1\na{t="x"} 2\n'],
    ['split samples', 'a 1\nb 1\na{t="y"} 1\n'],
    ['TYPE after samples', 'a 1\n# TYPE a gauge\n'],
    ['a negative counter', '# TYPE a_total counter\na_total -1\n'],
    ['a bad value', 'a one\n'],
    ['a blank line', 'a 1\n\nb 1\n'],
  ])('rejects %s', (_name, text) => {
    expect(() => parsePromText(text)).toThrow();
  });
});

describe('renderMetrics', () => {
  const deployed = '0123456789abcdef0123456789abcdef01234567';
  const text = renderMetrics({
    runDurationMs: 1234,
    runFinished: new Date('2026-11-23T16:05:00Z'),
    targets: [
      {
        state: { ...emptyState('todo', 'main'), deployedSha: deployed, lastCheck: '2026-11-23T16:05:00.000Z', lastSuccess: '2026-11-23T16:00:00.000Z', lastResult: 'deployed' },
        signals: signals('todo', { deploys: { deployed: 3, failed: 1 }, lastDeployDurationMs: 2500 }),
      },
      // A branch name may contain a double quote; the label must escape it.
      { state: { ...emptyState('blog', 'we"ird'), deployedSha: deployed, lastCheck: '2026-11-23T16:05:00.000Z', lastResult: 'error' }, signals: signals('blog') },
    ],
  });
  const families = parsePromText(text);
  const value = (name: string, labels: Record<string, string> = {}) =>
    families.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

  it('is strict text format with HELP and TYPE for every family', () => {
    for (const f of families.values()) {
      expect(f.help, f.name).toBeTruthy();
      expect(['gauge', 'counter'], f.name).toContain(f.type);
    }
  });

  it('has per-target last check and last success timestamps in seconds', () => {
    expect(value('pollpray_last_check_timestamp_seconds', { target: 'todo' })).toBe(Date.parse('2026-11-23T16:05:00Z') / 1000);
    expect(value('pollpray_last_success_timestamp_seconds', { target: 'todo' })).toBe(Date.parse('2026-11-23T16:00:00Z') / 1000);
    // never succeeded: no sample rather than a misleading 0
    expect(value('pollpray_last_success_timestamp_seconds', { target: 'blog' })).toBeUndefined();
  });

  it('has the deployed commit as an info metric, deploy duration, counters by result and the run duration', () => {
    expect(families.get('pollpray_deployed_commit_info')?.samples[0]).toEqual({ name: 'pollpray_deployed_commit_info', labels: { target: 'todo', branch: 'main', commit: deployed }, value: 1 });
    expect(value('pollpray_deploy_duration_seconds', { target: 'todo' })).toBe(2.5);
    expect(families.get('pollpray_deploys_total')?.type).toBe('counter');
    expect(value('pollpray_deploys_total', { target: 'todo', result: 'deployed' })).toBe(3);
    expect(value('pollpray_deploys_total', { target: 'todo', result: 'unverified' })).toBe(0);
    expect(value('pollpray_target_failing', { target: 'blog' })).toBe(1);
    expect(value('pollpray_target_failing', { target: 'todo' })).toBe(0);
    expect(value('pollpray_run_duration_seconds')).toBe(1.234);
  });

  it('escapes label values', () => {
    expect(text).toContain('branch="we\\"ird"');
    expect(value('pollpray_deployed_commit_info', { target: 'blog' })).toBe(1);
    expect(families.get('pollpray_deployed_commit_info')?.samples[1]?.labels.branch).toBe('we"ird');
  });
});
