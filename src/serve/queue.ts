/**
 * The webhook accelerator's work queue: cycles for targets, run by `workers` workers.
 * A target already waiting is not queued twice (one cycle catches every push made
 * before it starts), and one target never runs on two workers at once; different
 * targets (staging, production) run side by side.
 */
export interface QueuedItem {
  target: string;
  delivery: string;
  queuedAt: string;
}

export interface RunningItem extends QueuedItem {
  startedAt: string;
}

export interface QueueSnapshot {
  queue_length: number;
  queue: { target: string; delivery: string; queued_at: string }[];
  running: { target: string; delivery: string; queued_at: string; started_at: string }[];
}

export class CycleQueue {
  private readonly pending: QueuedItem[] = [];
  private readonly running = new Map<string, RunningItem>();
  private readonly idle = new Set<() => void>();
  private stopped = false;

  constructor(
    private readonly workers: number,
    private readonly work: (target: string) => Promise<void>,
  ) {}

  /** Queues a cycle of `target`; false when one is already waiting (it will see this push too). */
  add(target: string, delivery: string): boolean {
    if (this.stopped || this.pending.some((item) => item.target === target)) return false;
    this.pending.push({ target, delivery, queuedAt: new Date().toISOString() });
    this.pump();
    return true;
  }

  snapshot(): QueueSnapshot {
    return {
      queue_length: this.pending.length,
      queue: this.pending.map((i) => ({ target: i.target, delivery: i.delivery, queued_at: i.queuedAt })),
      running: [...this.running.values()].map((i) => ({
        target: i.target,
        delivery: i.delivery,
        queued_at: i.queuedAt,
        started_at: i.startedAt,
      })),
    };
  }

  /**
   * Stops taking work: waiting items are dropped (the next poll covers them) and the
   * promise settles once the running cycles finished, so no deploy is cut in half.
   */
  async stop(): Promise<number> {
    this.stopped = true;
    const dropped = this.pending.splice(0).length;
    if (this.running.size > 0) await new Promise<void>((resolve) => this.idle.add(resolve));
    return dropped;
  }

  private pump(): void {
    // After stop() nothing is pending (stop empties it, add refuses), so this ends at once.
    while (this.running.size < this.workers) {
      const index = this.pending.findIndex((item) => !this.running.has(item.target));
      if (index < 0) return;
      const [item] = this.pending.splice(index, 1);
      if (!item) return;
      this.running.set(item.target, { ...item, startedAt: new Date().toISOString() });
      // work() reports its own failures; the queue only keeps going.
      void this.work(item.target)
        .catch(() => undefined)
        .finally(() => {
          this.running.delete(item.target);
          if (this.running.size === 0) for (const resolve of this.idle) resolve();
          this.pump();
        });
    }
  }
}
