/**
 * A fleet of hosts with the same cron line would all hit the forge in the same second.
 * `splay` spreads them out: each host waits a fixed share of it, derived from its host
 * id, so one host always polls at the same offset (predictable in logs) and different
 * hosts land at different offsets. Pure, so it is unit-tested without waiting.
 */
import { createHash } from 'node:crypto';

export function splayDelayMs(hostId: string, splayMs: number): number {
  if (splayMs <= 0) return 0;
  const n = createHash('sha256').update(`pollpray-splay\0${hostId}`).digest().readUInt32BE(0);
  return n % splayMs;
}
