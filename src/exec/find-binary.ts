/**
 * Where an admin tool lives. visudo and friends are in sbin, which an unprivileged
 * user's (or cron's) PATH usually lacks, so the sbin directories are searched too.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const BIN_DIRS = ['/usr/local/bin', '/usr/bin', '/bin'];

export function findBinary(name: string, path: string | undefined = process.env.PATH): string | undefined {
  const dirs = isAbsolute(name) ? [''] : [...(path ?? '').split(delimiter).filter(Boolean), ...BIN_DIRS, ...SBIN_DIRS];
  for (const dir of dirs) {
    const candidate = dir ? join(dir, name) : name;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}
