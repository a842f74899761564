/**
 * The pure decisions of a fleet, table-tested without Redis (test/unit/fleet-gate.test.ts):
 * may this host deploy a commit given what the group knows about it, in which order it
 * tries the slots, and how fleet records read (age, stale).
 */
import { fnv1a } from './splay.js';
import type { FleetRecord, Verdict } from './store.js';

export interface GateInput {
  sha: string;
  /** This host deploys new commits first. */
  canary: boolean;
  /** Some host of the group is a canary, so followers wait for its verdict. */
  groupHasCanary: boolean;
  verdict: Verdict | null;
  /** `run --force`: the operator overrides the canary gate (slots still apply). */
  force: boolean;
}

export type GateDecision =
  | { action: 'proceed'; why: 'canary' | 'no-canary-in-group' | 'canary-healthy' | 'forced' }
  | { action: 'hold'; reason: 'bad-commit' | 'awaiting-canary'; detail: string };

const short = (sha: string) => sha.slice(0, 12);

export function gate({ sha, canary, groupHasCanary, verdict, force }: GateInput): GateDecision {
  if (force) return { action: 'proceed', why: 'forced' };
  if (verdict?.verdict === 'bad') {
    return {
      action: 'hold',
      reason: 'bad-commit',
      detail: `commit ${short(sha)} failed on canary ${verdict.host}${verdict.reason ? ` (${verdict.reason})` : ''}: the group will not deploy it; push a fix (or run --force)`,
    };
  }
  if (canary) return { action: 'proceed', why: 'canary' };
  if (!groupHasCanary) return { action: 'proceed', why: 'no-canary-in-group' };
  if (verdict?.verdict === 'healthy') return { action: 'proceed', why: 'canary-healthy' };
  return { action: 'hold', reason: 'awaiting-canary', detail: `waiting for a canary to report ${short(sha)} healthy` };
}

/**
 * The slots in the order this host tries them: starting at a host-specific slot, so
 * hosts of a big group do not all race for slot 0 first.
 */
export function slotOrder(hostId: string, maxInFlight: number): number[] {
  const start = fnv1a(`slot:${hostId}`) % maxInFlight;
  return Array.from({ length: maxInFlight }, (_, i) => (start + i) % maxInFlight);
}

/**
 * How often a waiting host looks again: a free slot should not idle long (each handoff
 * costs up to one interval), yet a thousand waiting hosts stay a few thousand cheap
 * reads a second for Redis.
 */
export function pollIntervalMs(leaseMs: number): number {
  return Math.min(500, Math.max(100, Math.floor(leaseMs / 10)));
}

export interface FleetRow extends FleetRecord {
  ageMs: number;
  stale: boolean;
}

/** Records sorted canaries first, then by host; stale = silent for longer than staleAfterMs. */
export function fleetRows(records: FleetRecord[], now: number, staleAfterMs: number): FleetRow[] {
  return records
    .map((r) => {
      const ageMs = Math.max(0, now - Date.parse(r.time));
      return { ...r, ageMs, stale: !(ageMs <= staleAfterMs) };
    })
    .sort((a, b) => Number(b.canary) - Number(a.canary) || a.host.localeCompare(b.host) || a.target.localeCompare(b.target));
}
