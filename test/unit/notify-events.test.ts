import { describe, expect, it } from 'vitest';
import { eventsFor } from '../../src/notify/events.js';
import type { OpenProblem } from '../../src/state/store.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

describe('eventsFor: what an outcome notifies, given what was notified before', () => {
  it.each<[string, string, string | null, OpenProblem | null, string[], OpenProblem | null]>([
    ['a first failure notifies failed', 'failed', A, null, ['failed'], { event: 'failed', sha: A }],
    ['the same failure again notifies nothing', 'failed', A, { event: 'failed', sha: A }, [], { event: 'failed', sha: A }],
    ['a new commit failing notifies again', 'failed', B, { event: 'failed', sha: A }, ['failed'], { event: 'failed', sha: B }],
    ['an unreachable remote is a failure', 'error', null, null, ['failed'], { event: 'failed', sha: null }],
    ['a deploy after a failure notifies deployed and recovered', 'deployed', B, { event: 'failed', sha: A }, ['deployed', 'recovered'], null],
    ['up to date after a failure notifies recovered', 'unchanged', A, { event: 'failed', sha: null }, ['recovered'], null],
    ['up to date with nothing open notifies nothing', 'unchanged', A, null, [], null],
    ['a plain deploy notifies deployed', 'deployed', A, null, ['deployed'], null],
    ['refused is its own event', 'refused', A, { event: 'failed', sha: A }, ['refused'], { event: 'refused', sha: A }],
    ['unverified is its own event', 'unverified', A, null, ['unverified'], { event: 'unverified', sha: A }],
    ['quarantined (from the retry policy) is its own event', 'quarantined', A, { event: 'failed', sha: A }, ['quarantined'], { event: 'quarantined', sha: A }],
    ['skipped keeps a problem open and says nothing', 'skipped', A, { event: 'failed', sha: A }, [], { event: 'failed', sha: A }],
  ])('%s', (_name, result, sha, open, events, next) => {
    expect(eventsFor(result, sha, open)).toEqual({ events, open: next });
  });
});
