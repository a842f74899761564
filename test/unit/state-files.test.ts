/**
 * The state dir as a user finds it: state, history, signals and the delivery memory in
 * real files under a temp dir, what survives a crash or a corrupt file, and what a
 * file may never contain (secrets).
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { loggedRecords } from '../helpers/log-file.js';
import { EnvironmentError } from '../../src/errors.js';
import { addSecrets } from '../../src/log/redact.js';
import {
  appendHistory,
  emptyState,
  ensureStateDir,
  HISTORY_ROTATE_BYTES,
  readDeliveries,
  readHistory,
  readSignals,
  readState,
  removeAbandonedTemps,
  targetDir,
  updateSignals,
  writeDeliveries,
  writeState,
  type HistoryEntry,
} from '../../src/state/store.js';
import { tryLock } from '../../src/state/lock.js';

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-state-files-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const entry = (patch: Partial<HistoryEntry> = {}): HistoryEntry => ({
  time: '2026-11-29T12:00:00.000Z',
  target: 'app',
  result: 'deployed',
  sha: 'a'.repeat(40),
  previousSha: null,
  durationMs: 1200,
  ...patch,
});

/** What `run` makes pollpray log, as `level step: message` lines (debug included). */
async function logged(run: () => unknown): Promise<string[]> {
  return (await loggedRecords(run, 'debug')).map((l) => `${l.level} ${l.target}/${l.step}: ${l.message}`);
}

/** The EnvironmentError `run` throws. */
function thrown(run: () => unknown): EnvironmentError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(EnvironmentError);
    return err as EnvironmentError;
  }
  throw new Error('expected an EnvironmentError');
}

/** A PID no process has (a child that already exited and was reaped). */
function deadPid(): number {
  return spawnSync('true').pid!;
}

describe('state.json', () => {
  it('round-trips, keeps the branch of the current config, and lives at targets/<name>/state.json (0640, dir 0750)', () => {
    const dir = stateDir();
    writeState(dir, { ...emptyState('app', 'main'), deployedSha: 'b'.repeat(40), paused: true });
    const file = join(targetDir(dir, 'app'), 'state.json');
    expect(targetDir(dir, 'app')).toBe(join(dir, 'targets', 'app'));
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(statSync(targetDir(dir, 'app')).mode & 0o777).toBe(0o750);
    const { state, movedAside } = readState(dir, 'app', 'release');
    expect(state).toMatchObject({ target: 'app', branch: 'release', deployedSha: 'b'.repeat(40), paused: true });
    expect(movedAside).toBeUndefined();
  });

  it.each([
    ['not JSON', '{"version": 1, "target"'],
    ['another version', '{"version": 2, "target": "app"}'],
    ['a state of the wrong shape', '{"version": 1, "paused": "yes"}'],
    ['null', 'null'],
    ['a string', '"x"'],
  ])('a file that is %s is moved aside for a run and the target starts empty', (_what, text) => {
    const dir = stateDir();
    const file = join(ensureStateDir(dir, 'app'), 'state.json');
    writeFileSync(file, text);
    const { state, movedAside } = readState(dir, 'app', 'main');
    expect(state).toEqual(emptyState('app', 'main'));
    expect(movedAside).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}\\.corrupt-\\d{4}-\\d{2}-\\d{2}T\\d{9}Z$`));
    expect(readFileSync(movedAside!, 'utf8')).toBe(text);
    expect(existsSync(file)).toBe(false);
  });

  it('status (read-only) reports a corrupt file without moving it', () => {
    const dir = stateDir();
    const file = join(ensureStateDir(dir, 'app'), 'state.json');
    writeFileSync(file, '{');
    const { state, movedAside } = readState(dir, 'app', 'main', { readOnly: true });
    expect(state.lastError).toBe(`state file ${file} is corrupt: it is not JSON (torn or truncated)`);
    expect(state.deployedSha).toBeNull();
    expect(movedAside).toBeUndefined();
    expect(readFileSync(file, 'utf8')).toBe('{');
  });

  it('a registered secret never reaches state.json or history.jsonl', () => {
    const dir = stateDir();
    addSecrets(['hunter2-state-secret']);
    writeState(dir, { ...emptyState('app', 'main'), lastError: 'fetch failed: https://u:hunter2-state-secret@example.com' });
    appendHistory(dir, entry({ result: 'failed', error: 'token hunter2-state-secret refused' }));
    const files = readdirSync(targetDir(dir, 'app')).map((f) => readFileSync(join(targetDir(dir, 'app'), f), 'utf8'));
    expect(files.join('\n')).not.toContain('hunter2-state-secret');
    expect(readHistory(dir, 'app')[0]!.error).toMatch(/^token .+ refused$/);
  });

  it('a state dir that cannot be created is an error naming it, with the fix', () => {
    const dir = stateDir();
    writeFileSync(join(dir, 'targets'), 'a file where the directory should be');
    let err: unknown;
    try {
      ensureStateDir(dir, 'app');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as EnvironmentError).message).toBe(`state directory ${dir} is not usable: ${dir}: a part of it is not a directory (ENOTDIR) on ${join(dir, 'targets', 'app')}`);
    expect((err as EnvironmentError).target).toBe('app');
  });
});

describe('the target directory', () => {
  it('a target directory that is a file is an error naming the state dir and the fix', () => {
    const dir = stateDir();
    mkdirSync(join(dir, 'targets'));
    writeFileSync(join(dir, 'targets', 'app'), 'a file where the directory should be');
    const err = thrown(() => ensureStateDir(dir, 'app'));
    expect(err).toMatchObject({
      message: `state directory ${dir} is not writable`,
      target: 'app',
      hint: `create it and give it to this user (chown -R $(id -un) ${dir}), or set state_dir`,
    });
    expect(err.cause).toMatchObject({ code: 'EEXIST' });
  });

  it('is created with its parents for a state dir that does not exist yet', () => {
    const dir = join(stateDir(), 'var', 'lib', 'pollpray');
    expect(ensureStateDir(dir, 'app')).toBe(join(dir, 'targets', 'app'));
    expect(statSync(join(dir, 'targets', 'app')).isDirectory()).toBe(true);
  });
});

describe('history.jsonl', () => {
  it('appends oldest first, one JSON line each, and skips a line torn by a crash and blank lines', () => {
    const dir = stateDir();
    expect(readHistory(dir, 'app')).toEqual([]);
    appendHistory(dir, entry({ durationMs: 1 }));
    appendFileSync(join(targetDir(dir, 'app'), 'history.jsonl'), '{"time":"2026-11-29T12:0\n\n   \n');
    appendHistory(dir, entry({ durationMs: 2, result: 'failed' }));
    const text = readFileSync(join(targetDir(dir, 'app'), 'history.jsonl'), 'utf8');
    expect(text.split('\n')[0]).toBe(JSON.stringify(entry({ durationMs: 1 })));
    expect(readHistory(dir, 'app').map((e) => [e.durationMs, e.result])).toEqual([
      [1, 'deployed'],
      [2, 'failed'],
    ]);
    expect(readHistory(dir, 'other')).toEqual([]);
  });

  it('rotates once it has reached its cap, not only once past it', () => {
    const dir = stateDir();
    const file = join(ensureStateDir(dir, 'app'), 'history.jsonl');
    writeFileSync(file, `${JSON.stringify(entry({ durationMs: 1 }))}\n`);
    truncateSync(file, HISTORY_ROTATE_BYTES - 1);
    appendFileSync(file, '\n');
    appendHistory(dir, entry({ durationMs: 2 }));
    expect(readdirSync(targetDir(dir, 'app')).sort()).toEqual(['history.jsonl', 'history.jsonl.1']);
    expect(statSync(`${file}.1`).size).toBe(HISTORY_ROTATE_BYTES);
    expect(readFileSync(file, 'utf8')).toBe(`${JSON.stringify(entry({ durationMs: 2 }))}\n`);
  });

  it('keeps growing well under its 4 MiB cap, and reads far more than one chunk of it back', () => {
    const dir = stateDir();
    const file = join(ensureStateDir(dir, 'app'), 'history.jsonl');
    const line = `${JSON.stringify(entry({ durationMs: 0, error: 'e'.repeat(900) }))}\n`;
    writeFileSync(file, line.repeat(3000)); // some 3 MB
    appendHistory(dir, entry({ durationMs: 1 }));
    expect(readdirSync(targetDir(dir, 'app'))).toEqual(['history.jsonl']);
    const read = readHistory(dir, 'app', 3001);
    expect(read).toHaveLength(3001);
    expect(read.at(-1)?.durationMs).toBe(1);
  });

  it('a history that cannot be opened is an error, not an empty history', () => {
    const dir = stateDir();
    writeFileSync(join(dir, 'targets'), 'a file where the directory should be');
    expect(() => readHistory(dir, 'app')).toThrow(/ENOTDIR/);
  });

  it('is created 0640 like the other state files', () => {
    const dir = stateDir();
    appendHistory(dir, entry());
    expect(statSync(join(targetDir(dir, 'app'), 'history.jsonl')).mode & 0o777).toBe(0o640);
  });

  it('names the lines it skipped in one debug line, and says nothing when there were none', async () => {
    const dir = stateDir();
    appendHistory(dir, entry({ durationMs: 1 }));
    expect(await logged(() => readHistory(dir, 'app'))).toEqual([]);
    appendFileSync(join(targetDir(dir, 'app'), 'history.jsonl'), 'garbage\n{"torn":\n');
    const file = join(targetDir(dir, 'app'), 'history.jsonl');
    expect(await logged(() => readHistory(dir, 'app'))).toEqual([`debug app/history: 2 line(s) of ${file} are not valid history entries; skipped`]);
  });
});

describe('signals.json (notification and metrics bookkeeping)', () => {
  const bump = (s: ReturnType<typeof readSignals>) => ({ signals: { ...s, deploys: { ...s.deploys, deployed: (s.deploys.deployed ?? 0) + 1 } }, value: (s.deploys.deployed ?? 0) + 1 });

  it('starts empty, counts across calls, and keeps the target name whatever the file says', async () => {
    const dir = stateDir();
    expect(readSignals(dir, 'app')).toEqual({ version: 1, target: 'app', openProblem: null, deploys: {}, lastDeployDurationMs: null, updatedAt: 0 });
    expect(await updateSignals(dir, 'app', bump)).toBe(1);
    expect(await updateSignals(dir, 'app', bump)).toBe(2);
    expect(readSignals(dir, 'app').deploys).toEqual({ deployed: 2 });
    const file = join(targetDir(dir, 'app'), 'signals.json');
    writeFileSync(file, JSON.stringify({ version: 1, target: 'evil', deploys: { failed: 3 } }));
    expect(readSignals(dir, 'app')).toMatchObject({ target: 'app', deploys: { failed: 3 }, openProblem: null });
  });

  it.each([['{'], ['null'], ['{"version":2,"deploys":{"deployed":9}}'], ['{"deploys":{"deployed":9}}']])('a torn or foreign file (%s) reads as empty', (text) => {
    const dir = stateDir();
    writeFileSync(join(ensureStateDir(dir, 'app'), 'signals.json'), text);
    expect(readSignals(dir, 'app').deploys).toEqual({});
  });

  it('a file moved aside is one warn line naming it, why, and where it went; a read-only reader logs nothing', async () => {
    const dir = stateDir();
    const file = join(ensureStateDir(dir, 'app'), 'signals.json');
    writeFileSync(file, '{"version":1,"deploys":{"deployed":-1}}');
    expect(await logged(() => readSignals(dir, 'app', { readOnly: true }))).toEqual([]);
    const lines = await logged(() => readSignals(dir, 'app'));
    const aside = readdirSync(targetDir(dir, 'app')).find((n) => n.startsWith('signals.json.corrupt-'));
    expect(lines).toEqual([
      `warn app/signals: ${file} does not match its schema (deploys.deployed: Too small: expected number to be >=0): moved aside to ${join(targetDir(dir, 'app'), aside!)}; starting from empty`,
    ]);
  });

  it.each([
    ['a run', {}],
    ['the metrics writer (read-only)', { readOnly: true }],
  ])('a signals file that cannot be read is an error for %s naming it, and is left in place', (_who, options) => {
    const dir = stateDir();
    const file = join(ensureStateDir(dir, 'app'), 'signals.json');
    mkdirSync(file);
    expect(thrown(() => readSignals(dir, 'app', options))).toMatchObject({
      message: `cannot read ${file}`,
      target: 'app',
      hint: 'make the state dir readable and writable by this user',
    });
    expect(statSync(file).isDirectory()).toBe(true);
  });

  it('waits for another run holding the bookkeeping lock, then gives up with an error naming why', async () => {
    const dir = stateDir();
    const held = await tryLock(dir, 'app#signals');
    onTestFinished(() => held?.release());
    const t0 = Date.now();
    await expect(updateSignals(dir, 'app', bump, 200)).rejects.toMatchObject({
      message: 'notification and metrics bookkeeping is busy in another run',
      target: 'app',
      hint: 'another pollpray run is finishing this target; its run records the outcome',
    });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(existsSync(join(targetDir(dir, 'app'), 'signals.json'))).toBe(false);
  });

  it('gets the lock once the other run releases it within the wait, and releases its own', async () => {
    const dir = stateDir();
    const held = (await tryLock(dir, 'app#signals'))!;
    setTimeout(() => void held.release(), 100);
    expect(await updateSignals(dir, 'app', bump, 3000)).toBe(1);
    const again = await tryLock(dir, 'app#signals');
    expect(again).toBeDefined();
    await again!.release();
  });
});

describe('the delivery memory file', () => {
  const valid = (v: unknown) => (Array.isArray(v) ? (v as string[]) : undefined);

  it('is absent at first, round-trips, and lives at serve/deliveries.json', () => {
    const dir = stateDir();
    expect(readDeliveries(dir, valid)).toEqual({});
    writeDeliveries(dir, ['a', 'b']);
    expect(readDeliveries(dir, valid)).toEqual({ records: ['a', 'b'] });
    expect(JSON.parse(readFileSync(join(dir, 'serve', 'deliveries.json'), 'utf8'))).toEqual(['a', 'b']);
  });

  it.each([['{'], ['{"not":"an array"}']])('an invalid file (%s) is moved aside, not trusted and not lost', (text) => {
    const dir = stateDir();
    mkdirSync(join(dir, 'serve'));
    const file = join(dir, 'serve', 'deliveries.json');
    writeFileSync(file, text);
    const read = readDeliveries(dir, valid);
    expect(read.records).toBeUndefined();
    expect(read.movedAside).toMatch(/deliveries\.json\.corrupt-\d{4}-\d{2}-\d{2}T\d{9}Z$/);
    expect(readFileSync(read.movedAside!, 'utf8')).toBe(text);
    expect(existsSync(file)).toBe(false);
  });

  it('an unreadable file is an error, left in place; an unwritable state dir is an error naming it', () => {
    const dir = stateDir();
    mkdirSync(join(dir, 'serve', 'deliveries.json'), { recursive: true });
    expect(thrown(() => readDeliveries(dir, valid))).toMatchObject({
      message: `cannot read ${join(dir, 'serve', 'deliveries.json')}`,
      hint: `make ${dir} readable and writable by this user`,
    });
    const blocked = stateDir();
    writeFileSync(join(blocked, 'serve'), '');
    expect(thrown(() => writeDeliveries(blocked, []))).toMatchObject({
      message: `state directory ${blocked} is not writable`,
      hint: `create it and give it to this user (chown -R $(id -un) ${blocked}), or set state_dir`,
    });
  });

  it('is written into a state dir that does not exist yet (a first serve)', () => {
    const dir = join(stateDir(), 'var', 'lib', 'pollpray');
    writeDeliveries(dir, ['a']);
    expect(readDeliveries(dir, valid)).toEqual({ records: ['a'] });
  });
});

describe('abandoned temp files', () => {
  it("removes only temps of dead writers with this prefix, never a live writer's, its own, or other files", () => {
    const dir = stateDir();
    const dead = deadPid();
    const names = [
      `.state.json.tmp-${dead}`,
      `.state.json.tmp-${process.pid}`,
      `.state.json.tmp-1`,
      '.state.json.tmp-0',
      '.state.json.tmp-x',
      // Not a PID pollpray put there: a negative number names no process (and kill(2) would take it as a group).
      '.state.json.tmp--4194000',
      '.state.json.tmp-',
      `.other.tmp-${dead}`,
      // Another file whose name has a dead PID where the prefix ends.
      `.state.json.old-${dead}`,
      'state.json',
    ];
    for (const n of names) writeFileSync(join(dir, n), '');
    removeAbandonedTemps(dir, '.state.json.tmp-');
    expect(readdirSync(dir).sort()).toEqual(names.filter((n) => n !== `.state.json.tmp-${dead}`).sort());
    expect(() => removeAbandonedTemps(join(dir, 'missing'), '.x')).not.toThrow();
  });

  it("keeps the temp of a live writer that is another user's process (kill answers EPERM)", () => {
    // As root kill(pid, 0) never fails with EPERM, so the kernel's answer to a non-root run
    // about, say, a root run writing at that moment is played here: the one thing mocked.
    const dir = stateDir();
    const other = deadPid();
    const name = `.state.json.tmp-${other}`;
    writeFileSync(join(dir, name), '');
    const kill = process.kill.bind(process);
    const spy = vi.spyOn(process, 'kill').mockImplementation((pid: number, signal?: string | number) => {
      if (pid === other && signal === 0) throw Object.assign(new Error(`kill EPERM`), { code: 'EPERM' });
      return kill(pid, signal);
    });
    onTestFinished(() => spy.mockRestore());
    removeAbandonedTemps(dir, '.state.json.tmp-');
    expect(readdirSync(dir)).toContain(name);
  });
});
