/**
 * A state file that exists but cannot be read is not a missing one: reading it as "no
 * state yet" would forget a pause, a quarantine and the deployed commit, and the next
 * write would replace the file. Only ENOENT means a new target.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { EnvironmentError } from '../../src/errors.js';
import { readState } from '../../src/state/store.js';

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-state-read-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('readState', () => {
  it('a target with no state file yet starts empty', () => {
    const dir = stateDir();
    const { state, movedAside } = readState(dir, 'app', 'main');
    expect(state).toStrictEqual({
      version: 1,
      target: 'app',
      branch: 'main',
      deployedSha: null,
      previousSha: null,
      remoteSha: null,
      lastCheck: null,
      lastSuccess: null,
      lastResult: null,
      lastError: null,
      lastFault: null,
      paused: false,
      pausedReason: null,
      rolledBack: false,
      failures: {},
      currentRelease: null,
      previousRelease: null,
    });
    expect(movedAside).toBeUndefined();
  });

  // EISDIR stands for every read error (EACCES too) and, unlike EACCES, also fails as root.
  it.each([
    ['for a run', {}],
    ['for status (read-only)', { readOnly: true }],
  ])('a state file that cannot be read is an error naming it, %s, and is left in place', (_name, options) => {
    const dir = stateDir();
    const file = join(dir, 'targets', 'app', 'state.json');
    mkdirSync(file, { recursive: true });
    let err: unknown;
    try {
      readState(dir, 'app', 'main', options);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EnvironmentError);
    expect(err).toMatchObject({ message: `cannot read state file ${file}`, target: 'app', hint: `make ${dir} readable and writable by this user` });
    expect((err as Error).cause).toMatchObject({ code: 'EISDIR' });
    expect(statSync(file).isDirectory()).toBe(true);
    expect(readdirSync(join(dir, 'targets', 'app'))).toEqual(['state.json']);
  });
});
