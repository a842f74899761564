/**
 * A run killed with `kill -9` cannot end its deploy script's process group, so it
 * records the group in the target's state dir while the script runs; the next run,
 * holding the target's lock, ends what is still there. The process start time is
 * recorded with the id, so a recycled PID is never killed by mistake.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../log/logger.js';
import { groupAlive, killGroup } from './groups.js';

interface Record {
  pgid: number;
  start: string;
}

const FILE = 'running.pgid';

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime), counted after the ")" that ends the command name.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function recordRunning(workDir: string, pgid: number): void {
  const start = startTime(pgid);
  if (start) writeFileSync(join(workDir, FILE), JSON.stringify({ pgid, start } satisfies Record));
}

export function clearRunning(workDir: string): void {
  rmSync(join(workDir, FILE), { force: true });
}

/** Ends the process group a killed run left behind, if it is still the same one. */
export async function endLeftovers(workDir: string, target: string): Promise<void> {
  let record: Record;
  try {
    record = JSON.parse(readFileSync(join(workDir, FILE), 'utf8')) as Record;
  } catch {
    return;
  }
  // The script itself may have finished and been reaped while a child it started in the
  // background lives on in its group. Linux does not hand out a PID again while it still
  // names a process group, so a group without its leader is still the recorded one.
  const leaderStart = startTime(record.pgid);
  if ((leaderStart === record.start || leaderStart === undefined) && groupAlive(record.pgid)) {
    log.warn(`ending process group ${record.pgid} left running by an interrupted run`, { target, step: 'lock' });
    await killGroup(record.pgid, 2000);
  }
  clearRunning(workDir);
}
