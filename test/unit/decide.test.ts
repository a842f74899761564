import { describe, expect, it } from 'vitest';
import { decide, onHistoryRewrite } from '../../src/deploy/decide.js';
import { emptyState, type TargetState } from '../../src/state/store.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const state = (patch: Partial<TargetState>): TargetState => ({ ...emptyState('app', 'main'), ...patch });

describe('decide', () => {
  it.each([
    ['never deployed → first deploy', { remoteSha: A, state: state({}), force: false }, { action: 'deploy', reason: 'first-deploy' }],
    ['remote equals deployed → unchanged (no fetch)', { remoteSha: A, state: state({ deployedSha: A, lastResult: 'deployed' }), force: false }, { action: 'unchanged' }],
    ['remote moved → deploy new commit', { remoteSha: B, state: state({ deployedSha: A }), force: false }, { action: 'deploy', reason: 'new-commit' }],
    ['same failed commit again, backoff over → retry', { remoteSha: B, state: state({ deployedSha: A, remoteSha: B, lastResult: 'failed', failures: { [B]: { attempts: 1, lastAttempt: '2026-01-01T10:00:00.000Z', lastError: 'x' } } }), force: false, now: new Date('2026-01-01T10:05:00Z') }, { action: 'deploy', reason: 'retry' }],
    ['same failed commit within its backoff → skip until the next retry', { remoteSha: B, state: state({ deployedSha: A, failures: { [B]: { attempts: 2, lastAttempt: '2026-01-01T10:00:00.000Z', lastError: 'x' } } }), force: false, now: new Date('2026-01-01T10:05:00Z') }, { action: 'skip', reason: 'backoff', attempts: 2, nextRetry: '2026-01-01T10:15:00.000Z' }],
    ['failed max_attempts times → quarantined', { remoteSha: B, state: state({ deployedSha: A, failures: { [B]: { attempts: 3, lastAttempt: '2026-01-01T10:00:00.000Z', lastError: 'x' } } }), force: false, maxAttempts: 3, now: new Date('2026-01-02T10:00:00Z') }, { action: 'skip', reason: 'quarantined', attempts: 3 }],
    ['a new commit after a quarantined one is tried at once', { remoteSha: C, state: state({ deployedSha: A, failures: { [B]: { attempts: 3, lastAttempt: '2026-01-01T10:00:00.000Z', lastError: 'x' } } }), force: false, now: new Date('2026-01-01T10:00:01Z') }, { action: 'deploy', reason: 'new-commit' }],
    ['--force overrides quarantine', { remoteSha: B, state: state({ deployedSha: A, failures: { [B]: { attempts: 9, lastAttempt: '2026-01-01T10:00:00.000Z', lastError: 'x' } } }), force: true }, { action: 'deploy', reason: 'forced' }],
    ['first deploy that failed and waits → backoff', { remoteSha: B, state: state({ failures: { [B]: { attempts: 1, lastAttempt: '2026-01-01T10:00:00.000Z', lastError: 'x' } } }), force: false, now: new Date('2026-01-01T10:01:00Z') }, { action: 'skip', reason: 'backoff', attempts: 1, nextRetry: '2026-01-01T10:05:00.000Z' }],
    ['--force redeploys the current head', { remoteSha: A, state: state({ deployedSha: A }), force: true }, { action: 'deploy', reason: 'forced' }],
    ['paused → skip', { remoteSha: B, state: state({ deployedSha: A, paused: true }), force: false }, { action: 'skip', reason: 'paused' }],
    // The README: `run --force` deploys even a paused target.
    ['paused with --force → deploy', { remoteSha: B, state: state({ deployedSha: A, paused: true }), force: true }, { action: 'deploy', reason: 'forced' }],
  ] as const)('%s', (_name, input, plan) => {
    expect(decide(input)).toEqual(plan);
  });
});

describe('onHistoryRewrite', () => {
  it('follows a fast-forward whatever the policy', () => {
    expect(onHistoryRewrite(true, 'refuse')).toBe('follow');
  });
  it('applies the policy when the deployed commit is no longer in the branch', () => {
    expect(onHistoryRewrite(false, 'refuse')).toBe('refuse');
    expect(onHistoryRewrite(false, 'follow')).toBe('follow');
  });
});
