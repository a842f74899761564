import { describe, expect, it } from 'vitest';
import { decide } from '../../src/deploy/decide.js';
import { afterFailedAttempt, backoffDelayMs, clearFailures, countsAgainstCommit, recordFailure, retryVerdict } from '../../src/deploy/policy.js';
import { emptyState } from '../../src/state/store.js';

const M = 60_000;
const at = (iso: string) => new Date(iso);
const failed = (attempts: number, lastAttempt = '2026-01-01T10:00:00.000Z') => ({ attempts, lastAttempt, lastError: 'boom' });

describe('backoffDelayMs', () => {
  it.each([
    [0, 0],
    [1, 5 * M],
    [2, 15 * M],
    [3, 45 * M],
    [4, 135 * M],
    [5, 360 * M], // capped at 6h
    [50, 360 * M],
  ])('after %i failures waits %i ms', (attempts, ms) => {
    expect(backoffDelayMs(attempts)).toBe(ms);
  });
});

describe('retryVerdict', () => {
  it.each([
    ['a commit that never failed is tried at once', undefined, 3, '2026-01-01T10:00:00Z', { verdict: 'try' }],
    ['one failure, 4 minutes later: wait', failed(1), 3, '2026-01-01T10:03:59Z', { verdict: 'wait', attempts: 1, nextRetry: '2026-01-01T10:05:00.000Z' }],
    ['one failure, a cron tick a few seconds early still counts', failed(1, '2026-01-01T10:00:02.500Z'), 3, '2026-01-01T10:05:00.100Z', { verdict: 'try' }],
    ['one failure, 5 minutes later: try', failed(1), 3, '2026-01-01T10:05:00Z', { verdict: 'try' }],
    // The early slack is a tenth of the delay, at most a minute: exactly at its edge counts as due.
    ['one failure, 30 s early (a tenth of 5m): try', failed(1), 3, '2026-01-01T10:04:30Z', { verdict: 'try' }],
    ['one failure, 45 s early: wait', failed(1), 3, '2026-01-01T10:04:15Z', { verdict: 'wait', attempts: 1, nextRetry: '2026-01-01T10:05:00.000Z' }],
    ['five failures (6h), 2 minutes early: wait (the slack is at most a minute)', failed(5), 10, '2026-01-01T15:58:00Z', { verdict: 'wait', attempts: 5, nextRetry: '2026-01-01T16:00:00.000Z' }],
    ['five failures (6h), 1 minute early: try', failed(5), 10, '2026-01-01T15:59:00Z', { verdict: 'try' }],
    // A state file written by hand or by an older version: no failed attempt holds nothing back.
    ['an entry with zero attempts, stamped in the future: try', failed(0, '2026-01-01T12:00:00.000Z'), 3, '2026-01-01T10:00:00Z', { verdict: 'try' }],
    ['two failures, 10 minutes later: wait for 15m', failed(2), 3, '2026-01-01T10:10:00Z', { verdict: 'wait', attempts: 2, nextRetry: '2026-01-01T10:15:00.000Z' }],
    ['two failures, 15 minutes later: try', failed(2), 3, '2026-01-01T10:15:00Z', { verdict: 'try' }],
    ['max_attempts failures: quarantined, however long ago', failed(3), 3, '2027-01-01T00:00:00Z', { verdict: 'quarantined', attempts: 3 }],
    ['max_attempts 5: the third failure waits 45m', failed(3), 5, '2026-01-01T10:30:00Z', { verdict: 'wait', attempts: 3, nextRetry: '2026-01-01T10:45:00.000Z' }],
    ['max_attempts 1: one failure quarantines', failed(1), 1, '2026-01-01T11:00:00Z', { verdict: 'quarantined', attempts: 1 }],
  ] as const)('%s', (_name, failures, max, now, verdict) => {
    expect(retryVerdict(failures, max, at(now))).toEqual(verdict);
  });
});

describe('recordFailure / clearFailures', () => {
  it('counts failures per commit and clears one on success', () => {
    let f = recordFailure({}, 'a', at('2026-01-01T10:00:00Z'), 'x');
    f = recordFailure(f, 'a', at('2026-01-01T10:05:00Z'), 'y');
    f = recordFailure(f, 'b', at('2026-01-01T10:06:00Z'), 'z');
    expect(f).toEqual({
      a: { attempts: 2, lastAttempt: '2026-01-01T10:05:00.000Z', lastError: 'y' },
      b: { attempts: 1, lastAttempt: '2026-01-01T10:06:00.000Z', lastError: 'z' },
    });
    expect(clearFailures(f, 'a')).toEqual({ b: f.b });
  });

  it('keeps only the newest commits', () => {
    let f = {};
    for (let i = 0; i < 15; i++) f = recordFailure(f, `c${i}`, new Date(Date.UTC(2026, 0, 1, 0, i)), 'x', 10);
    expect(Object.keys(f).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `c${i + 5}`).sort());
  });
});

describe('afterFailedAttempt: whose fault decides whether it counts', () => {
  const sha = 'a'.repeat(40);
  const started = at('2026-01-01T10:00:00Z');
  it('a commit fault (its build, restart or health check) counts one more attempt', () => {
    const next = afterFailedAttempt({}, sha, started, { message: 'deploy script exited with 1', fault: 'commit' });
    expect(next[sha]).toMatchObject({ attempts: 1, lastError: 'deploy script exited with 1' });
    expect(decide({ remoteSha: sha, state: { ...emptyState('app', 'main'), failures: next }, force: false, now: at('2026-01-01T10:01:00Z') })).toMatchObject({ action: 'skip', reason: 'backoff' });
  });

  it.each([
    'deploy script /etc/pollpray/deploy.sh is missing or not executable',
    'sudo refused to restart app.service without a password',
    'state_dir (/var/lib/pollpray): read-only file system (EROFS)',
  ])('a host fault (%s) leaves the failures as they were: the next run deploys without --force', (message) => {
    const before = { [sha]: failed(1) };
    expect(afterFailedAttempt({}, sha, started, { message, fault: 'host' })).toEqual({});
    expect(afterFailedAttempt(before, sha, started, { message, fault: 'host' })).toBe(before);
    expect(decide({ remoteSha: sha, state: emptyState('app', 'main'), force: false, now: at('2026-01-01T10:01:00Z') })).toMatchObject({ action: 'deploy' });
  });

  it('countsAgainstCommit: only the commit fault', () => {
    expect(countsAgainstCommit('commit')).toBe(true);
    expect(countsAgainstCommit('host')).toBe(false);
  });
});
