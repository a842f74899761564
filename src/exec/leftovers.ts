/**
 * A run killed with `kill -9` cannot end its deploy script's process group, so it
 * records the group in the target's state dir while the script runs; the next run,
 * holding the target's lock, ends what is still there. The process start time is
 * recorded with the id, so a recycled PID is never killed by mistake.
 *
 * The group id is only known once the script has started, and a kill can land in
 * between. So first an id is recorded that the script's environment carries
 * (SCRIPT_ID_VAR, inherited by everything it starts); a record without a group is
 * resolved through that id in /proc.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../log/logger.js';
import { runningRecordSchema, type RunningRecord } from '../state/records.js';
import { writeFileAtomic } from '../state/store.js';
import { groupAlive, killGroup } from './groups.js';
import { procStat } from './proc-stat.js';

type Running = RunningRecord;

const FILE = 'running.pgid';
export const SCRIPT_ID_VAR = 'POLLPRAY_SCRIPT_ID';

const startTime = (pid: number): string | undefined => procStat(pid)?.start;

/** Replaced atomically: a kill mid-write leaves the old record or the new one, never half. */
function writeRecord(workDir: string, record: Running): void {
  writeFileAtomic(join(workDir, FILE), JSON.stringify(record));
}

/** Before a script starts: records a fresh id; the script gets it as SCRIPT_ID_VAR. */
export function beginRunning(workDir: string): string {
  const id = randomBytes(8).toString('hex');
  writeRecord(workDir, { id });
  return id;
}

export function recordRunning(workDir: string, id: string, pgid: number): void {
  const start = startTime(pgid);
  if (start) writeRecord(workDir, { id, pgid, start });
}

export function clearRunning(workDir: string): void {
  rmSync(join(workDir, FILE), { force: true });
}

/** Process groups of the processes whose environment carries the script id. */
function groupsCarrying(id: string): Set<number> {
  const groups = new Set<number>();
  const entry = `${SCRIPT_ID_VAR}=${id}`;
  for (const pid of readdirSync('/proc')) {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(entry)) continue;
    } catch {
      continue; // not a process, gone meanwhile, or not ours to read
    }
    const stat = procStat(pid);
    if (stat) groups.add(stat.pgrp);
  }
  return groups;
}

/** Ends the process group a killed run left behind, if it is still the same one. */
export async function endLeftovers(workDir: string, target: string): Promise<void> {
  const file = join(workDir, FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  // Its group id goes to kill(2): a record that is not one pollpray wrote ends nothing.
  const parsed = runningRecordSchema.safeParse(json);
  if (!parsed.success) {
    log.warn(`${file} is not a valid running-script record; removed without ending any process`, { target, step: 'lock' });
    clearRunning(workDir);
    return;
  }
  const record = parsed.data;
  let groups: number[] = [];
  if (record.pgid === undefined) {
    groups = [...groupsCarrying(record.id)];
  } else {
    // The script itself may have finished and been reaped while a child it started in the
    // background lives on in its group. Linux does not hand out a PID again while it still
    // names a process group, so a group without its leader is still the recorded one.
    const leaderStart = startTime(record.pgid);
    if (leaderStart === record.start || leaderStart === undefined) groups = [record.pgid];
  }
  for (const pgid of groups.filter(groupAlive)) {
    log.warn(`ending process group ${pgid} left running by an interrupted run`, { target, step: 'lock' });
    await killGroup(pgid, 2000);
  }
  clearRunning(workDir);
}
