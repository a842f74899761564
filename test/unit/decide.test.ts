import { describe, expect, it } from 'vitest';
import { decide, onHistoryRewrite } from '../../src/deploy/decide.js';
import { emptyState, type TargetState } from '../../src/state/store.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const state = (patch: Partial<TargetState>): TargetState => ({ ...emptyState('app', 'main'), ...patch });

describe('decide', () => {
  it.each([
    ['never deployed → first deploy', { remoteSha: A, state: state({}), force: false }, { action: 'deploy', reason: 'first-deploy' }],
    ['remote equals deployed → unchanged (no fetch)', { remoteSha: A, state: state({ deployedSha: A, lastResult: 'deployed' }), force: false }, { action: 'unchanged' }],
    ['remote moved → deploy new commit', { remoteSha: B, state: state({ deployedSha: A }), force: false }, { action: 'deploy', reason: 'new-commit' }],
    ['same failed commit again → retry', { remoteSha: B, state: state({ deployedSha: A, remoteSha: B, lastResult: 'failed' }), force: false }, { action: 'deploy', reason: 'retry' }],
    ['--force redeploys the current head', { remoteSha: A, state: state({ deployedSha: A }), force: true }, { action: 'deploy', reason: 'forced' }],
    ['paused → skip', { remoteSha: B, state: state({ deployedSha: A, paused: true }), force: false }, { action: 'skip', reason: 'paused' }],
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
