/**
 * The process groups pollpray started and has not seen end, and how to end one. Kept
 * apart from run.ts (and so from execa) because main.ts needs it on every start,
 * for its signal handler, and `pollpray --version` should not pay for execa.
 */
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

/** True while any process (a zombie too) is still in the group. */
export function groupExists(pgid: number): boolean {
  return signalGroup(pgid, 0);
}

/** SIGTERM to the whole group, then SIGKILL to whatever is left after `graceMs`. */
export async function killGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && signalGroup(pgid, 0)) await new Promise((r) => setTimeout(r, 25));
  signalGroup(pgid, 'SIGKILL');
}
