/**
 * The only place that writes to the terminal. Results go to stdout, problems to
 * stderr, one redacted line each, so cron mail carries exactly the problems.
 */
import { redact } from './redact.js';

// A reader that went away (`pollpray status | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

export const stdoutIsTty = (): boolean => process.stdout.isTTY === true;

export function out(text: string): void {
  process.stdout.write(`${redact(text)}\n`);
}

export function problem(text: string): void {
  process.stderr.write(`pollpray: ${redact(text)}\n`);
}

/**
 * Resolves once stderr has taken everything written to it. A pipe whose reader is slow
 * (cron, a supervisor) makes writes queue in the process, and process.exit drops the queue.
 */
export async function stderrDrained(): Promise<void> {
  if (process.stderr.writableLength === 0) return;
  await new Promise<void>((resolve) => process.stderr.once('drain', () => resolve()));
}

/** A log line, when the log file cannot be written (see logger.ts): already formatted and redacted. */
export function logLine(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}

export const stdinIsTty = (): boolean => process.stdin.isTTY === true;

/** git's progress is shown only to a person at a terminal: never in cron mail, logs or pipes. */
export const stderrIsTty = (): boolean => process.stderr.isTTY === true;

let progressShown = false;

/** One progress update (git writes them ending in \r), drawn over the previous one. */
export function progress(line: string): void {
  if (!line.trim()) return;
  process.stderr.write(`\r\x1b[K${redact(line)}`);
  progressShown = true;
}

/** Ends the progress line so the next output starts on its own line. */
export function progressEnd(): void {
  if (progressShown) process.stderr.write('\n');
  progressShown = false;
}

/** Asks one question on the terminal (stderr, so stdout stays data) and returns the answer line. */
export async function ask(question: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(redact(question))).trim();
  } finally {
    rl.close();
  }
}
