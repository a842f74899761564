/**
 * The one door for processes. argv arrays only (no shell), an explicit cwd, a timeout
 * on everything, and each child started as the leader of its own process group so a
 * timeout kills the whole tree: a deploy script's `sleep 600 &` dies with it, and no
 * orphan keeps a pipe (or a lock) open after pollpray moved on.
 */
import { execa } from 'execa';
import { killGroup, trackGroup, untrackGroup } from './groups.js';
import { createInterface, type Interface } from 'node:readline';
import { formatDuration } from '../duration.js';
import { log, logs } from '../log/logger.js';
import { lineRedactor, redact } from '../log/redact.js';

export interface RunOptions {
  cwd: string;
  timeoutMs: number;
  /** Added on top of the inherited environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /** Start from an empty environment instead of pollpray's own (git gets a scrubbed one). */
  extendEnv?: boolean;
  input?: string;
  /** Between SIGTERM and SIGKILL of the group on timeout. */
  killGraceMs?: number;
  /** Kill whatever the command left running in its group once it exits (scripts: yes). */
  killLeftovers?: boolean;
  /** Each output line as it arrives (already redacted), e.g. to stream a script into the log. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Keep at most this many characters of each stream (the tail). */
  maxOutput?: number;
  /** Called with the child's pid (= its process group id) once it has started. */
  onSpawn?: (pid: number) => void;
  /** Run as another user (tests, sudo fixtures); pollpray itself never changes user. */
  uid?: number;
  gid?: number;
}

export interface RunResult {
  argv: string[];
  exitCode: number;
  signal?: string;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  /** The binary could not be started at all (ENOENT, EACCES). */
  spawnError?: string;
}

function keepTail(buffer: string, chunk: string, max: number): string {
  const next = buffer + chunk;
  return next.length > max ? next.slice(next.length - max) : next;
}

/** How long a timed-out call's output is still read after its process exited. */
const STREAM_DRAIN_MS = 500;

export async function run(argv: string[], options: RunOptions): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('run() needs a command');
  const started = Date.now();
  const max = options.maxOutput ?? 256 * 1024;
  const grace = options.killGraceMs ?? 5000;
  // Not even built below debug: an unchanged run of 200 targets would redact 200 argvs for nothing.
  if (logs('debug')) log.debug(`exec ${redact(argv.join(' '))}`, { step: 'exec', cwd: options.cwd });

  const child = execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: options.extendEnv ?? true,
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : 'pipe',
    detached: true,
    buffer: false,
    reject: false,
    stripFinalNewline: false,
    // Our own timer kills the whole group; execa's would only kill the leader.
    cleanup: true,
    uid: options.uid,
    gid: options.gid,
  });

  const pgid = child.pid;
  if (pgid !== undefined) {
    trackGroup(pgid);
    options.onSpawn?.(pgid);
  }
  let stdout = '';
  let stderr = '';
  const readers: Interface[] = [];
  const collect = (stream: NodeJS.ReadableStream | null, name: 'stdout' | 'stderr'): Promise<void> => {
    if (!stream) return Promise.resolve();
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    readers.push(lines);
    const closed = new Promise<void>((resolve) => lines.once('close', resolve));
    const redactLine = lineRedactor();
    lines.on('line', (raw) => {
      const line = redactLine(raw);
      if (name === 'stdout') stdout = keepTail(stdout, `${line}\n`, max);
      else stderr = keepTail(stderr, `${line}\n`, max);
      options.onLine?.(line, name);
    });
    return closed;
  };
  const streamsDone = Promise.all([collect(child.stdout, 'stdout'), collect(child.stderr, 'stderr')]);

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (pgid !== undefined) void killGroup(pgid, grace);
  }, options.timeoutMs);
  // When the leader exits, its leftovers would keep our pipes open and the lock's
  // purpose defeated; end them so the result arrives now.
  child.on('exit', () => {
    if (pgid !== undefined && options.killLeftovers) void killGroup(pgid, Math.min(grace, 1000));
    // A process outside the group can still hold our pipes after a timeout (an ssh
    // ControlPersist master setsid()s and serves the session git was killed in): stop
    // reading them soon, so the call ends at its timeout and not when that session does.
    if (timedOut) {
      setTimeout(() => {
        for (const reader of readers) reader.close();
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, STREAM_DRAIN_MS);
    }
  });

  const result = await child;
  await streamsDone;
  clearTimeout(timer);
  if (pgid !== undefined) untrackGroup(pgid);
  const durationMs = Date.now() - started;
  const spawnError =
    result.exitCode === undefined && result.failed && !timedOut && !result.signal
      ? (result.cause as NodeJS.ErrnoException | undefined)?.code ?? result.shortMessage
      : undefined;
  if (timedOut) log.debug(`timed out after ${formatDuration(options.timeoutMs)}: ${argv[0]}`, { step: 'exec' });
  return {
    argv,
    exitCode: result.exitCode ?? (timedOut ? 124 : 1),
    signal: result.signal ?? undefined,
    stdout,
    stderr,
    durationMs,
    timedOut,
    spawnError: spawnError ? String(spawnError) : undefined,
  };
}

/** The longest last line an error quotes: a build may end on a line of megabytes. */
const MAX_QUOTED_LINE = 1000;

/**
 * The last line of a finished command's stderr (else stdout), for the one-line error that
 * quotes it: cut to its first 1000 characters, the last one `…`. The error goes into state,
 * history and every notification, a command hook's environment included, where Linux
 * refuses one string over 128 KiB.
 */
export function lastOutputLine(result: Pick<RunResult, 'stdout' | 'stderr'>): string {
  const last = result.stderr.trim().split('\n').pop() || result.stdout.trim().split('\n').pop() || '';
  return last.length > MAX_QUOTED_LINE ? `${last.slice(0, MAX_QUOTED_LINE - 1).replace(/[\ud800-\udbff]$/, '')}…` : last;
}
