/**
 * Whether a cron daemon runs on this host: a crontab line does nothing without one (a
 * container or minimal VM often has the crontab tool but no daemon). Read-only, by PID:
 * /proc/<pid>/exe names the program; another user's exe is unreadable (EACCES), so then
 * the command name in /proc/<pid>/comm decides (busybox crond shows up only there too).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

const CRON_NAMES = new Set(['cron', 'crond']);

export function cronDaemonPid(proc = '/proc'): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync(proc);
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let name: string;
    try {
      name = basename(readlinkSync(`${proc}/${entry}/exe`)).replace(/ \(deleted\)$/, '');
    } catch {
      try {
        name = readFileSync(`${proc}/${entry}/comm`, 'utf8').trim();
      } catch {
        continue; // ended meanwhile
      }
    }
    if (CRON_NAMES.has(name)) return Number(entry);
  }
  return undefined;
}
