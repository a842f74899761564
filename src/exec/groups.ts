/**
 * The process groups pollpray started and has not seen end, and how to end one. Kept
 * apart from run.ts (and so from execa) because main.ts needs it on every start,
 * for its signal handler, and `pollpray --version` should not pay for execa.
 */
import { readdirSync } from 'node:fs';
import { procStat } from './proc-stat.js';

const activeGroups = new Set<number>();

export function trackGroup(pgid: number): void {
  activeGroups.add(pgid);
}

export function untrackGroup(pgid: number): void {
  activeGroups.delete(pgid);
}

/** Kill every process group this process started (used on SIGINT/SIGTERM of pollpray). */
export function killAllChildren(signal: NodeJS.Signals = 'SIGTERM'): void {
  for (const pgid of activeGroups) signalGroup(pgid, signal);
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone
  }
}

/**
 * True while a process of the group still runs. Zombies do not count: they are dead and
 * only wait to be reaped, which an orphan's adoptive parent may do late or never (a
 * container whose PID 1 does not reap), so waiting for them would wait out every grace.
 */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  let pids: string[];
  try {
    pids = readdirSync('/proc');
  } catch {
    return true; // no /proc to tell zombies apart: the group exists
  }
  for (const pid of pids) {
    const stat = procStat(pid); // undefined: not a process, or gone meanwhile
    if (stat && stat.pgrp === pgid && stat.state !== 'Z') return true;
  }
  return false;
}

/** SIGTERM to the whole group, then SIGKILL to whatever is left after `graceMs`. */
export async function killGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && groupAlive(pgid)) await new Promise((r) => setTimeout(r, 25));
  signalGroup(pgid, 'SIGKILL');
}
