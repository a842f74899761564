/**
 * What the store does with the temp files of atomic writes: a temp file is never state,
 * and one left by a writer that died before its rename is removed by the next write.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { readState, writeFileAtomic, writeState, emptyState } from '../../src/state/store.js';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-store-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The PID of a process that has exited (and was reaped), as a killed writer's would be. */
function deadPid(): number {
  const r = spawnSync('true');
  if (r.pid === undefined) throw new Error('could not start true');
  return r.pid;
}

describe('atomic writes and their temp files', () => {
  it("removes a dead writer's temp file on the next write and keeps a live writer's", () => {
    const dir = tempDir();
    const file = join(dir, 'state.json');
    const dead = join(dir, `.state.json.tmp-${deadPid()}`);
    const live = join(dir, `.state.json.tmp-${process.ppid}`);
    const otherFile = join(dir, `.signals.json.tmp-${deadPid()}`);
    for (const f of [dead, live, otherFile]) writeFileSync(f, '{"half":');

    writeFileAtomic(file, '{"whole":true}\n');

    expect(readFileSync(file, 'utf8')).toBe('{"whole":true}\n');
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    // Another file's temps are that file's writes to clean up.
    expect(existsSync(otherFile)).toBe(true);
  });

  it('never reads a temp file as state: with only a temp file there, the target has no state yet', () => {
    const stateDir = tempDir();
    const dir = join(stateDir, 'targets', 'app');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `.state.json.tmp-${deadPid()}`), JSON.stringify({ ...emptyState('app', 'main'), deployedSha: 'a'.repeat(40) }));
    const loaded = readState(stateDir, 'app', 'main');
    expect(loaded.state.deployedSha).toBeNull();
    expect(loaded.movedAside).toBeUndefined();
  });

  it('a write whose rename fails removes its temp file', () => {
    const dir = tempDir();
    const file = join(dir, 'state.json');
    mkdirSync(file); // rename(2) of a file over a directory fails with EISDIR
    expect(() => writeFileAtomic(file, 'new\n')).toThrow(/EISDIR/);
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('writeState leaves exactly state.json in a clean target dir', () => {
    const stateDir = tempDir();
    writeState(stateDir, emptyState('app', 'main'));
    expect(readdirSync(join(stateDir, 'targets', 'app'))).toEqual(['state.json']);
  });
});
