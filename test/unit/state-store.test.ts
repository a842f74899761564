/**
 * What the store does with the temp files of atomic writes: a temp file is never state,
 * and one left by a writer that died before its rename is removed by the next write.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  appendHistory,
  emptyState,
  HISTORY_ROTATE_BYTES,
  readHistory,
  readLinesBackward,
  readSignals,
  readState,
  updateSignals,
  writeFileAtomic,
  writeState,
  writeStateAsync,
  type HistoryEntry,
} from '../../src/state/store.js';

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

  it.each([
    ['writeState', async (dir: string, state: ReturnType<typeof emptyState>) => writeState(dir, state)],
    ['writeStateAsync (an unchanged check)', writeStateAsync],
  ])("%s replaces state.json (0640), removes a dead writer's temp and keeps a live one's", async (_name, write) => {
    const stateDir = tempDir();
    const dir = join(stateDir, 'targets', 'app');
    mkdirSync(dir, { recursive: true });
    const dead = join(dir, `.state.json.tmp-${deadPid()}`);
    const live = join(dir, `.state.json.tmp-${process.ppid}`);
    for (const f of [dead, live]) writeFileSync(f, '{"half":');
    await write(stateDir, { ...emptyState('app', 'main'), deployedSha: SHA });
    await write(stateDir, { ...emptyState('app', 'main'), deployedSha: OTHER, paused: true });
    const file = join(dir, 'state.json');
    expect(readFileSync(file, 'utf8')).toBe(`${JSON.stringify({ ...emptyState('app', 'main'), deployedSha: OTHER, paused: true }, null, 2)}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).sort()).toEqual([`.state.json.tmp-${process.ppid}`, 'state.json']);
  });

  it('writeStateAsync whose rename fails removes its temp file and says why', async () => {
    const stateDir = tempDir();
    mkdirSync(join(stateDir, 'targets', 'app', 'state.json'), { recursive: true });
    await expect(writeStateAsync(stateDir, emptyState('app', 'main'))).rejects.toThrow(/EISDIR/);
    expect(readdirSync(join(stateDir, 'targets', 'app'))).toEqual(['state.json']);
  });

  it('a write into a directory that is gone fails with the error of the write, not of its clean-up', () => {
    const dir = join(tempDir(), 'gone');
    expect(() => writeFileAtomic(join(dir, 'state.json'), 'x')).toThrow(/ENOENT: no such file or directory, open/);
  });

  it.each([
    ['writeState', async (dir: string) => writeState(dir, emptyState('app', 'main'))],
    ['writeStateAsync', async (dir: string) => writeStateAsync(dir, emptyState('app', 'main'))],
  ])('%s out of file descriptors fails with EMFILE (what to fix), not with the clean-up of a temp never made', async (_name, write) => {
    const stateDir = tempDir();
    mkdirSync(join(stateDir, 'targets', 'app'), { recursive: true });
    const fds: number[] = [];
    let outcome: unknown;
    try {
      try {
        for (;;) fds.push(openSync('/dev/null', 'r'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EMFILE') throw err;
      }
      outcome = await write(stateDir).then(
        () => 'written',
        (err: NodeJS.ErrnoException) => `${err.code} ${err.syscall}`,
      );
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    expect(outcome).toBe('EMFILE open');
    expect(readdirSync(join(stateDir, 'targets', 'app'))).toEqual([]);
  });

  it('writes, reads and counts leave no file descriptor open (serve runs for months)', async () => {
    const stateDir = tempDir();
    const open = () => readdirSync('/proc/self/fd').length;
    appendHistory(stateDir, entry(1));
    await updateSignals(stateDir, 'app', (s) => ({ signals: s, value: 0 }));
    const before = open();
    for (let i = 0; i < 40; i++) {
      writeState(stateDir, emptyState('app', 'main'));
      await writeStateAsync(stateDir, emptyState('app', 'main'));
      await updateSignals(stateDir, 'app', (s) => ({ signals: { ...s, updatedAt: i }, value: i }));
      readHistory(stateDir, 'app');
    }
    // A leak is one descriptor per call, 40 or more; a few may come and go with the runtime.
    expect(open() - before).toBeLessThan(10);
  });

  it('writeState leaves exactly state.json in a clean target dir', () => {
    const stateDir = tempDir();
    writeState(stateDir, emptyState('app', 'main'));
    expect(readdirSync(join(stateDir, 'targets', 'app'))).toEqual(['state.json']);
  });
});

const SHA = 'a'.repeat(40);
const OTHER = 'b'.repeat(40);

function stateFile(stateDir: string, target: string, content: string): string {
  const dir = join(stateDir, 'targets', target);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'state.json');
  writeFileSync(file, content);
  return file;
}

describe('state read back as data', () => {
  it.each([
    ['failures: null', { failures: null }],
    ['failures of the wrong shape', { failures: { [SHA]: { attempts: 'many' } } }],
    ['a deployedSha that is an option', { deployedSha: '--upload-pack=touch /tmp/x' }],
    ['a deployedSha of the wrong type', { deployedSha: 42 }],
    ['a currentRelease leading out of releases/', { currentRelease: '../../etc' }],
    ['an unknown lastResult', { lastResult: 'owned' }],
    ['paused as a string', { paused: 'yes' }],
    ['no version', { version: undefined }],
    ['version 2', { version: 2 }],
  ])('a state file with %s is moved aside and the target starts from empty', (_what, content) => {
    const stateDir = tempDir();
    const file = stateFile(stateDir, 'app', JSON.stringify({ ...emptyState('app', 'main'), deployedSha: SHA, ...content }));
    const loaded = readState(stateDir, 'app', 'main');
    expect(loaded.state).toEqual(emptyState('app', 'main'));
    expect(loaded.movedAside).toMatch(/state\.json\.corrupt-/);
    expect(loaded.why).toMatch(/does not match its schema/);
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(join(stateDir, 'targets', 'app'))).toEqual([loaded.movedAside?.split('/').pop()]);
  });

  it.each([['an array', '[]'], ['null', 'null'], ['a torn file', '{"version": 1, "deployedSha": "aaa']])('a state file that is %s is moved aside', (_what, text) => {
    const stateDir = tempDir();
    stateFile(stateDir, 'app', text);
    const loaded = readState(stateDir, 'app', 'main');
    expect(loaded.state).toEqual(emptyState('app', 'main'));
    expect(loaded.movedAside).toMatch(/state\.json\.corrupt-/);
  });

  it('read-only readers (status, metrics) leave an invalid file where it is and say it is corrupt', () => {
    const stateDir = tempDir();
    const file = stateFile(stateDir, 'app', JSON.stringify({ ...emptyState('app', 'main'), failures: null }));
    const loaded = readState(stateDir, 'app', 'main', { readOnly: true });
    expect(loaded.state.lastError).toMatch(/state file .* is corrupt/);
    expect(existsSync(file)).toBe(true);
  });

  it("a state file from an older version, without the newer fields, keeps what it has", () => {
    const stateDir = tempDir();
    stateFile(stateDir, 'app', JSON.stringify({ version: 1, target: 'app', branch: 'main', deployedSha: SHA, failures: {} }));
    const loaded = readState(stateDir, 'app', 'main');
    expect(loaded.movedAside).toBeUndefined();
    // Strict: a field the file lacks is its default (null), not undefined.
    expect(loaded.state).toStrictEqual({ ...emptyState('app', 'main'), deployedSha: SHA });
  });

  it("the target a state file belongs to is the directory it was read from, never its own target field", () => {
    const stateDir = tempDir();
    // targets/app renamed to targets/web (the target was renamed in the config), file unchanged.
    stateFile(stateDir, 'web', JSON.stringify({ ...emptyState('app', 'main'), deployedSha: SHA }));
    const { state } = readState(stateDir, 'web', 'main');
    expect(state.target).toBe('web');
    writeState(stateDir, { ...state, deployedSha: OTHER });
    expect(existsSync(join(stateDir, 'targets', 'app'))).toBe(false);
    expect(readState(stateDir, 'web', 'main').state.deployedSha).toBe(OTHER);
  });

  it('signals of the wrong types are moved aside and counting starts again; a read-only reader leaves them', () => {
    const stateDir = tempDir();
    const dir = join(stateDir, 'targets', 'app');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'signals.json'), JSON.stringify({ version: 1, target: 'other', openProblem: null, deploys: null, lastDeployDurationMs: null, updatedAt: 0 }));
    expect(readSignals(stateDir, 'app', { readOnly: true }).deploys).toEqual({});
    expect(existsSync(join(dir, 'signals.json'))).toBe(true);
    const signals = readSignals(stateDir, 'app');
    expect(signals).toMatchObject({ target: 'app', deploys: {} });
    expect(readdirSync(dir).filter((n) => n.startsWith('signals.json.corrupt-'))).toHaveLength(1);
  });
});

function entry(i: number, extra: Partial<HistoryEntry> = {}): HistoryEntry {
  return { time: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(), target: 'app', result: 'deployed', sha: SHA, previousSha: null, durationMs: i, ...extra };
}

describe('history read back as data', () => {
  it('reads only the newest entries, from the end of an 800 MB file, in bounded time', () => {
    const stateDir = tempDir();
    const dir = join(stateDir, 'targets', 'app');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'history.jsonl');
    // A sparse 800 MB prefix (costs no disk), then real lines: reading it whole crashes node.
    writeFileSync(file, `${JSON.stringify(entry(0))}\n`);
    truncateSync(file, 800 * 1024 * 1024);
    appendFileSync(file, `\n${Array.from({ length: 50 }, (_, i) => JSON.stringify(entry(i + 1))).join('\n')}\n`);
    // Under mutation testing every statement of src/ is instrumented (and counted per test),
    // which makes this loop-heavy read several times slower: the bound stays, scaled.
    const slow = '__stryker__' in globalThis ? 20 : 1;
    const started = Date.now();
    const last = readHistory(stateDir, 'app', 5);
    expect(Date.now() - started).toBeLessThan(1000 * slow);
    expect(last.map((h) => h.durationMs)).toEqual([46, 47, 48, 49, 50]);
    // Asking for more than there is stops at the read budget, not at the start of the file.
    const all = readHistory(stateDir, 'app', 1000);
    expect(Date.now() - started).toBeLessThan(3000 * slow);
    expect(all).toHaveLength(50);
  });

  it('skips a torn last line, garbage and entries of the wrong types, and names the target it was read for', () => {
    const stateDir = tempDir();
    const dir = join(stateDir, 'targets', 'web');
    mkdirSync(dir, { recursive: true });
    const lines = [
      JSON.stringify(entry(1)),
      'not json',
      JSON.stringify({ ...entry(2), result: 'owned' }),
      JSON.stringify({ ...entry(3), sha: '--output=/etc/passwd' }),
      JSON.stringify({ ...entry(4), durationMs: null }),
      JSON.stringify(entry(5)),
      '{"time":"2026-',
    ];
    writeFileSync(join(dir, 'history.jsonl'), lines.join('\n'));
    const read = readHistory(stateDir, 'web');
    expect(read.map((h) => h.durationMs)).toEqual([1, 5]);
    expect(read.every((h) => h.target === 'web')).toBe(true);
  });

  it('rotates history.jsonl to history.jsonl.1 past its cap and reads across both', () => {
    const stateDir = tempDir();
    const dir = join(stateDir, 'targets', 'app');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'history.jsonl');
    writeFileSync(file, `${JSON.stringify(entry(1))}\n`);
    truncateSync(file, HISTORY_ROTATE_BYTES - 1);
    appendFileSync(file, `\n${JSON.stringify(entry(2))}\n`);
    appendHistory(stateDir, entry(3));
    appendHistory(stateDir, entry(4));
    expect(readdirSync(dir).sort()).toEqual(['history.jsonl', 'history.jsonl.1']);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(readHistory(stateDir, 'app').map((h) => h.durationMs)).toEqual([1, 2, 3, 4]);
    expect(readHistory(stateDir, 'app', 2).map((h) => h.durationMs)).toEqual([3, 4]);
  });

  it('readLinesBackward yields lines last first, skips an over-long one and stops when told', () => {
    const dir = tempDir();
    const file = join(dir, 'lines');
    writeFileSync(file, `one\n${'x'.repeat(300_000)}\ntwo\n\nthree`);
    const seen: string[] = [];
    readLinesBackward(file, 1 << 30, 100_000, (l) => (seen.push(l), true));
    expect(seen).toEqual(['three', 'two', 'one']);
    const first: string[] = [];
    readLinesBackward(file, 1 << 30, 100_000, (l) => (first.push(l), false));
    expect(first).toEqual(['three']);
    const none: string[] = [];
    readLinesBackward(join(dir, 'missing'), 1 << 30, 100, (l) => (none.push(l), true));
    expect(none).toEqual([]);
  });
});
