/**
 * Deliveries already acted on, kept in memory and in the state dir, so that neither a
 * forge's redelivery (same id) nor a captured body replayed under a new id (same
 * digest of the signed bytes) queues anything, also after a restart. Bounded: the
 * newest DELIVERIES_KEPT are kept. A replay older than that can only ask for one more
 * poll, which deploys nothing the remote does not already have.
 */
import { z } from 'zod';
import { DELIVERIES_KEPT, readDeliveries, writeDeliveries } from '../state/store.js';
import { DELIVERY_ID } from './forge.js';

export interface DeliveryRecord {
  id: string;
  /** sha256 (hex) of the signed bytes. */
  digest: string;
}

// DELIVERY_ID also covers the `sha256:<digest>` id of a delivery that came without one.
const recordSchema = z.strictObject({ id: z.string().regex(DELIVERY_ID), digest: z.string().regex(/^[0-9a-f]{64}$/) });
const fileSchema = z.strictObject({ version: z.literal(2), deliveries: z.array(recordSchema).max(DELIVERIES_KEPT) });

/** The file as written by this version, validated record by record; anything else is refused whole. */
export function validDeliveries(value: unknown): DeliveryRecord[] | undefined {
  const parsed = fileSchema.safeParse(value);
  return parsed.success ? parsed.data.deliveries : undefined;
}

export class DeliveryMemory {
  private readonly records: DeliveryRecord[];
  private readonly ids = new Set<string>();
  private readonly digests = new Set<string>();
  /** Where an invalid file was moved at start, for the caller to log. */
  readonly movedAside: string | undefined;

  constructor(private readonly stateDir: string) {
    const read = readDeliveries(stateDir, validDeliveries);
    this.records = read.records ?? [];
    this.movedAside = read.movedAside;
    for (const r of this.records) this.index(r);
  }

  /** Which earlier delivery this one repeats: its id (a redelivery) or its signed body (a replay). */
  seen(id: string, digest: string): 'id' | 'body' | undefined {
    return this.ids.has(id) ? 'id' : this.digests.has(digest) ? 'body' : undefined;
  }

  /** Records the delivery on disk before the caller acts on it: a crash then loses a cycle, never repeats one. */
  remember(id: string, digest: string): void {
    this.records.push({ id, digest });
    this.index({ id, digest });
    if (this.records.length > DELIVERIES_KEPT) {
      this.records.splice(0, this.records.length - DELIVERIES_KEPT);
      this.ids.clear();
      this.digests.clear();
      for (const r of this.records) this.index(r);
    }
    writeDeliveries(this.stateDir, { version: 2, deliveries: this.records });
  }

  private index(r: DeliveryRecord): void {
    this.ids.add(r.id);
    this.digests.add(r.digest);
  }
}
