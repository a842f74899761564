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
