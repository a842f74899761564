/**
 * Delivery ids already acted on, kept in memory and in the state dir, so a forge's
 * redelivery (same id) or a replayed request queues nothing, also after a restart.
 */
import { DELIVERIES_KEPT, readDeliveries, writeDeliveries } from '../state/store.js';

export class DeliveryMemory {
  private readonly ids: string[];
  private readonly seen: Set<string>;

  constructor(private readonly stateDir: string) {
    this.ids = readDeliveries(stateDir);
    this.seen = new Set(this.ids);
  }

  has(id: string): boolean {
    return this.seen.has(id);
  }

  /** Records the id on disk before the caller acts on it: a crash then loses a cycle, never repeats one. */
  remember(id: string): void {
    this.ids.push(id);
    this.seen.add(id);
    if (this.ids.length > DELIVERIES_KEPT) for (const old of this.ids.splice(0, this.ids.length - DELIVERIES_KEPT)) this.seen.delete(old);
    writeDeliveries(this.stateDir, this.ids);
  }
}
