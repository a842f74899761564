/** The running user's crontab, read and replaced with the crontab tool itself (never the spool files). */
import { EnvironmentError } from '../errors.js';
import { findBinary } from '../exec/find-binary.js';
import { run } from '../exec/run.js';

const MAY_USE_CRON = 'check that this user may use cron (/etc/cron.allow, /etc/cron.deny)';

function crontabBinary(): string {
  const path = findBinary('crontab');
  if (!path) {
    throw new EnvironmentError('crontab not found', {
      hint: 'install cron (apt-get install cron), or run pollpray from a systemd timer (examples/systemd/)',
    });
  }
  return path;
}

/** The running user's crontab; "no crontab for <user>" is an empty one. */
export async function readCrontab(): Promise<string> {
  const r = await run([crontabBinary(), '-l'], { cwd: '/', timeoutMs: 10_000, env: { LC_ALL: 'C' } });
  if (r.exitCode === 0) return r.stdout;
  if (/no crontab for/i.test(r.stderr)) return '';
  throw new EnvironmentError(`crontab -l failed: ${r.stderr.trim() || `exit ${r.exitCode}`}`, { hint: MAY_USE_CRON });
}

export async function writeCrontab(text: string): Promise<void> {
  const r = await run([crontabBinary(), '-'], { cwd: '/', timeoutMs: 10_000, input: text, env: { LC_ALL: 'C' } });
  if (r.exitCode !== 0) {
    throw new EnvironmentError(`crontab - failed: ${r.stderr.trim() || `exit ${r.exitCode}`}`, { hint: MAY_USE_CRON });
  }
}
