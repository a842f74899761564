import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { closeLogging, configureLogging } from '../../src/log/logger.js';

/** One JSON line of pollpray's day log file. */
export type LogRecord = Record<string, unknown> & { level: string; message: string; step?: string; target?: string };

/**
 * The JSON lines the operator would find in the day's log file while `run` runs: pollpray's
 * own file sink, set up in a temp dir at `level` and closed (flushed) afterwards.
 */
export async function loggedRecords(run: () => unknown, level: 'debug' | 'info' = 'info'): Promise<LogRecord[]> {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-test-log-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  configureLogging({ dir, level, retentionMs: 86_400_000, retentionDays: 1, compress: false, format: 'json' });
  try {
    await run();
  } finally {
    await closeLogging();
  }
  return readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as LogRecord);
}
