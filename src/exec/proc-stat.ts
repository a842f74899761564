/**
 * `/proc/<pid>/stat`, read once and parsed in one place. The command name (field 2) may
 * hold spaces and parentheses, so fields are counted after the last ")".
 */
import { readFileSync } from 'node:fs';

export interface ProcStat {
  /** R, S, D, Z (zombie: dead, waiting to be reaped), … */
  state: string;
  pgrp: number;
  /** Field 22, in clock ticks since boot: with the PID, names one process for good. */
  start: string;
}

/** undefined when `pid` is no process (or it ended meanwhile). */
export function procStat(pid: number | string): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', pgrp: Number(fields[2]), start: fields[19] ?? '' };
}
