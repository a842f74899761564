/**
 * Spreading a fleet's polls: each host waits a fixed, host-specific part of `splay`
 * before polling, so a thousand crons firing on the same minute reach the forge over
 * the whole splay window instead of in one burst. The offset is a hash of the host id:
 * stable across runs (a host polls at the same second every time), no coordination.
 */

/** 32-bit FNV-1a: small, well spread over short similar strings such as web-001..web-999. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** This host's delay before polling, in [0, splayMs). */
export function splayDelayMs(hostId: string, splayMs: number): number {
  if (splayMs <= 0) return 0;
  return fnv1a(`splay:${hostId}`) % splayMs;
}
