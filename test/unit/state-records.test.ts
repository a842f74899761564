/**
 * What a state file read back may hold (src/state/records.ts), as `pollpray status`
 * shows it: a value pollpray writes itself is kept, anything else makes the file corrupt,
 * with the first problem named in a few words (field path, then why).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { runningRecordSchema } from '../../src/state/records.js';
import { emptyState, readSignals, readState, updateSignals, writeState } from '../../src/state/store.js';

const SHA = 'a'.repeat(40);

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-records-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What status reads from a state.json holding `content`: the state, or the corruption it reports. */
function statusOf(content: unknown): { state: ReturnType<typeof readState>['state']; corrupt?: string } {
  const dir = stateDir();
  const targetDir = join(dir, 'targets', 'app');
  mkdirSync(targetDir, { recursive: true });
  const file = join(targetDir, 'state.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  const { state } = readState(dir, 'app', 'main', { readOnly: true });
  const prefix = `state file ${file} is corrupt: it `;
  return state.lastError?.startsWith(prefix) ? { state, corrupt: state.lastError.slice(prefix.length) } : { state };
}

describe('the results a state file may record', () => {
  it.each([['deployed'], ['unchanged'], ['failed'], ['skipped'], ['refused'], ['error'], ['rolled-back'], ['unverified']] as const)(
    'a last result of %s is kept across a write and a read',
    (result) => {
      const dir = stateDir();
      writeState(dir, { ...emptyState('app', 'main'), lastResult: result, deployedSha: SHA });
      const { state, movedAside } = readState(dir, 'app', 'main');
      expect(movedAside).toBeUndefined();
      expect(state).toMatchObject({ lastResult: result, deployedSha: SHA });
    },
  );
});

describe('what a state and a signals file keep across a write and a read', () => {
  it('failed attempts per commit keep their count, time and error', () => {
    const dir = stateDir();
    const failures = { [SHA]: { attempts: 3, lastAttempt: '2026-11-29T12:00:00.000Z', lastError: 'deploy script exited 1' } };
    writeState(dir, { ...emptyState('app', 'main'), failures });
    expect(readState(dir, 'app', 'main').state.failures).toStrictEqual(failures);
  });

  it('an open problem and the last deploy duration are kept for the next run', async () => {
    const dir = stateDir();
    await updateSignals(dir, 'app', (s) => ({ signals: { ...s, openProblem: { event: 'failed', sha: SHA }, lastDeployDurationMs: 1200, deploys: { failed: 2 } }, value: 0 }));
    expect(readSignals(dir, 'app')).toMatchObject({ openProblem: { event: 'failed', sha: SHA }, lastDeployDurationMs: 1200, deploys: { failed: 2 } });
  });
});

describe('whose fault a state file may record', () => {
  it.each([['host'], ['commit']] as const)('a last fault of %s is kept across a write and a read', (fault) => {
    const dir = stateDir();
    writeState(dir, { ...emptyState('app', 'main'), lastResult: 'error', lastFault: fault });
    const { state, movedAside } = readState(dir, 'app', 'main');
    expect(movedAside).toBeUndefined();
    expect(state).toMatchObject({ lastResult: 'error', lastFault: fault });
  });

  it('any other fault makes the file corrupt', () => {
    expect(statusOf({ version: 1, lastFault: 'user' }).corrupt).toMatch(/^does not match its schema \(lastFault: /);
  });
});

describe('what status says about a corrupt state file', () => {
  it.each([
    ['a commit that is not a full id', { version: 1, deployedSha: 'abc1234' }, 'does not match its schema (deployedSha: must be a full commit id)'],
    ['a release that is not a directory name', { version: 1, currentRelease: '../../etc' }, 'does not match its schema (currentRelease: must be a release directory name)'],
    [
      'a nested field of the wrong type',
      { version: 1, failures: { [SHA]: { attempts: 'many', lastAttempt: '2026-11-29T12:00:00Z', lastError: '' } } },
      `does not match its schema (failures.${SHA}.attempts: Invalid input: expected number, received string)`,
    ],
    ['not an object at all', [], 'does not match its schema (Invalid input: expected object, received array)'],
    ['no JSON', '{"version": 1,', 'is not JSON (torn or truncated)'],
  ])('%s is named with where and why', (_what, content, why) => {
    const { state, corrupt } = statusOf(content);
    expect(corrupt).toBe(why);
    expect(state.deployedSha).toBeNull();
  });

  it('a problem deep in a huge key is cut to a readable length', () => {
    const { corrupt } = statusOf({ version: 1, failures: { ['x'.repeat(5000)]: { attempts: 1, lastAttempt: 't', lastError: '' } } });
    expect(corrupt).toMatch(/^does not match its schema \(failures\.x+\)$/);
    expect(corrupt).toHaveLength('does not match its schema ()'.length + 200);
  });
});

describe('release directory names a state file may point current at', () => {
  it.each([['r'], ['R'], ['7'], ['20261129T120000Z-aaaaaaaaaaaa'], ['xAz9._-'], ['a'.repeat(128)]])('%s is kept', (name) => {
    const { state, corrupt } = statusOf({ version: 1, currentRelease: name, previousRelease: name });
    expect(corrupt).toBeUndefined();
    expect(state).toMatchObject({ currentRelease: name, previousRelease: name });
  });

  it.each([[''], ['.r1'], ['-r1'], ['_r1'], ['../r1'], ['r1/..'], ['r1/x'], ['r 1'], ['r1\n'], ['a'.repeat(129)]])('%j makes the file corrupt', (name) => {
    expect(statusOf({ version: 1, previousRelease: name }).corrupt).toBe('does not match its schema (previousRelease: must be a release directory name)');
  });
});

describe('a running-script record (its group id goes to kill(2))', () => {
  const ID = '0123456789abcdef';

  it.each([
    ['an id alone', { id: ID }],
    ['a group and its start time', { id: 'fedcba9876543210', pgid: 4242, start: '123456' }],
    ['a one-digit start time', { id: ID, pgid: 2, start: '7' }],
    ['a twenty-digit start time', { id: ID, pgid: 2 ** 22, start: '9'.repeat(20) }],
  ])('%s is one pollpray wrote', (_what, record) => {
    expect(runningRecordSchema.safeParse(record).success).toBe(true);
  });

  it.each([
    ['an id of 15 hex digits', { id: ID.slice(1) }],
    ['an id of 17 hex digits', { id: `${ID}0` }],
    ['an id in capitals', { id: ID.toUpperCase() }],
    ['an id with a non-hex letter', { id: `${ID.slice(1)}g` }],
    ['an id with something around it', { id: ` ${ID}` }],
    ['an id with something after it', { id: `${ID}\n` }],
    ['group 1 (every process)', { id: ID, pgid: 1 }],
    ['group 0 (our own group)', { id: ID, pgid: 0 }],
    ['a negative group', { id: ID, pgid: -5 }],
    ['an empty start time', { id: ID, pgid: 42, start: '' }],
    ['a start time of 21 digits', { id: ID, pgid: 42, start: '1'.repeat(21) }],
    ['a start time that is not a number', { id: ID, pgid: 42, start: '12a' }],
    ['a start time with something around it', { id: ID, pgid: 42, start: 'x12' }],
    ['a start time with something after it', { id: ID, pgid: 42, start: '12 ' }],
  ])('%s is refused', (_what, record) => {
    expect(runningRecordSchema.safeParse(record).success).toBe(false);
  });
});
