import { describe, expect, it } from 'vitest';
import { chooseRollback } from '../../src/commands/rollback.js';
import { emptyState, type TargetState } from '../../src/state/store.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const state = (patch: Partial<TargetState>): TargetState => ({ ...emptyState('app', 'main'), ...patch });
const rel = (name: string, sha: string) => ({ name, dir: `/x/releases/${name}`, sha });
const releases = [rel('r1-aaa', A), rel('r2-bbb', B), rel('r3-ccc', C)];
const base = { target: 'app', history: [] };

describe('chooseRollback', () => {
  it.each([
    ['releases, no argument: the previous release from state', { ...base, strategy: 'releases', state: state({ previousRelease: 'r1-aaa' }), releases, current: 'r3-ccc' }, { sha: A, release: 'r1-aaa' }],
    ['releases, no previous in state: the newest release older than current', { ...base, strategy: 'releases', state: state({}), releases, current: 'r3-ccc' }, { sha: B, release: 'r2-bbb' }],
    ['releases, by release name', { ...base, strategy: 'releases', state: state({}), releases, current: 'r3-ccc', arg: 'r1-aaa' }, { sha: A, release: 'r1-aaa' }],
    ['releases, by commit prefix', { ...base, strategy: 'releases', state: state({}), releases, current: 'r3-ccc', arg: 'bbbbbbb' }, { sha: B, release: 'r2-bbb' }],
    ['in-place, no argument: the previous commit', { ...base, strategy: 'in-place', state: state({ deployedSha: B, previousSha: A }), releases: [], current: null }, { sha: A, release: null }],
    ['in-place, a prefix of a deployed commit', { ...base, strategy: 'in-place', state: state({ deployedSha: B }), releases: [], current: null, arg: 'aaaaaaaa', history: [{ time: 't', target: 'app', result: 'deployed', sha: A, previousSha: null, durationMs: 1 }] }, { sha: A, release: null }],
  ] as const)('%s', (_name, input, version) => {
    expect(chooseRollback(input)).toEqual(version);
  });

  it.each([
    ['releases, the current release', { ...base, strategy: 'releases', state: state({}), releases, current: 'r3-ccc', arg: 'r3-ccc' }, /already current/],
    ['releases, nothing before current', { ...base, strategy: 'releases', state: state({}), releases: [releases[0]!], current: 'r1-aaa' }, /no previous release/],
    ['releases, unknown', { ...base, strategy: 'releases', state: state({}), releases, current: 'r3-ccc', arg: 'ddddddd' }, /no complete release/],
    ['in-place, never deployed before', { ...base, strategy: 'in-place', state: state({ deployedSha: A }), releases: [], current: null }, /no previous deploy/],
    ['in-place, not a commit', { ...base, strategy: 'in-place', state: state({ deployedSha: A }), releases: [], current: null, arg: 'main' }, /not a commit id/],
    ['in-place, a short commit never deployed', { ...base, strategy: 'in-place', state: state({ deployedSha: A }), releases: [], current: null, arg: 'ccccccc' }, /never deployed here/],
  ] as const)('refuses: %s', (_name, input, message) => {
    expect(() => chooseRollback(input)).toThrow(message);
  });
});
