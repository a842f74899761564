/**
 * Runs the built CLI (bin/pollpray.js) as a user would, in its own temp world: a
 * config file written from an object, HOME pointed at a temp dir so no developer
 * config leaks in, and helpers to read what the run left behind.
 */
import { execa, type ResultPromise } from 'execa';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { onTestFinished } from 'vitest';
import { stringify } from 'yaml';

export const BIN = resolve(import.meta.dirname, '../../bin/pollpray.js');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface World {
  dir: string;
  configFile: string;
  stateDir: string;
  logDir: string;
  env: Record<string, string>;
  writeConfig(config: Record<string, unknown>): void;
  /** Writes an executable script into the world and returns its path. */
  script(name: string, body: string): string;
  cli(args: string[], opts?: { env?: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<CliResult>;
  spawn(args: string[], opts?: { env?: Record<string, string> }): ResultPromise;
  state(target: string): Record<string, unknown> | undefined;
  history(target: string): Array<Record<string, unknown>>;
  logText(): string;
}

export function makeWorld(): World {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-e2e-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'pollpray.yaml');
  const stateDir = join(dir, 'state');
  const logDir = join(dir, 'log');
  const env = { HOME: join(dir, 'home'), POLLPRAY_CONFIG: configFile, GIT_CONFIG_NOSYSTEM: '1' };

  const world: World = {
    dir,
    configFile,
    stateDir,
    logDir,
    env,
    writeConfig(config) {
      const full = { state_dir: stateDir, log: { dir: logDir, level: 'debug' }, ...config };
      writeFileSync(configFile, stringify(full), { mode: 0o640 });
    },
    script(name, body) {
      const path = join(dir, name);
      writeFileSync(path, `#!/bin/bash\n${body}\n`);
      chmodSync(path, 0o755);
      return path;
    },
    async cli(args, opts = {}) {
      const started = Date.now();
      const r = await execa('node', [BIN, ...args], {
        cwd: opts.cwd ?? dir,
        env: { ...env, ...opts.env },
        reject: false,
        timeout: opts.timeoutMs ?? 60_000,
      });
      return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, durationMs: Date.now() - started };
    },
    spawn(args, opts = {}) {
      return execa('node', [BIN, ...args], { cwd: dir, env: { ...env, ...opts.env }, reject: false });
    },
    state(target) {
      const file = join(stateDir, 'targets', target, 'state.json');
      return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : undefined;
    },
    history(target) {
      const file = join(stateDir, 'targets', target, 'history.jsonl');
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    logText() {
      if (!existsSync(logDir)) return '';
      return readdirSync(logDir)
        .filter((f) => f.endsWith('.log'))
        .sort()
        .map((f) => readFileSync(join(logDir, f), 'utf8'))
        .join('');
    },
  };
  return world;
}

/**
 * The whole lines a script appended to `file` so far. A line still being written (no
 * newline yet), or a file `>>` has created but not written, is left for the next read.
 */
export function linesOf(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(0, -1) : [];
}

/** A process is gone when /proc has no entry or only a zombie (PID 1 here may not reap). */
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Polls until `check` holds (bounded), for events the test cannot subscribe to. */
export async function until(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The PID a script wrote with `echo $$ > file`, once the whole line is there. Waits because
 * `>` creates the file before echo writes it; an empty read would be PID 0, and a kill of 0
 * would end the test runner's own process group.
 */
export async function pidFile(file: string, timeoutMs = 5_000): Promise<number> {
  let pid = 0;
  await until(
    () => {
      const m = existsSync(file) ? /^([1-9][0-9]*)\n$/.exec(readFileSync(file, 'utf8')) : null;
      pid = m ? Number(m[1]) : 0;
      return pid > 0;
    },
    timeoutMs,
    `a PID in ${file}`,
  );
  return pid;
}
