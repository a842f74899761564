/**
 * The webhook work queue (`pollpray serve`): how many cycles run at once, what waits,
 * what `GET /queue` shows, and what a stop leaves behind. The work is a promise each
 * test settles by hand, so every step is awaited, never slept for.
 */
import { describe, expect, it } from 'vitest';
import { CycleQueue } from '../../src/serve/queue.js';

/** A queue whose cycles run until the test finishes (or fails) them. */
function controlled(workers: number) {
  const started: string[] = [];
  const running = new Map<string, { finish: () => void; fail: (e: Error) => void }>();
  const queue = new CycleQueue(workers, (target) => {
    started.push(target);
    return new Promise<void>((resolve, reject) => running.set(target, { finish: resolve, fail: reject }));
  });
  /** Settles `target`'s cycle and lets the queue react (its finally runs in a later microtask). */
  const settle = async (target: string, how: 'finish' | 'fail' = 'finish') => {
    const r = running.get(target);
    if (!r) throw new Error(`${target} is not running`);
    running.delete(target);
    if (how === 'finish') r.finish();
    else r.fail(new Error(`${target} failed`));
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return { queue, started, settle };
}

describe('the cycle queue', () => {
  it('runs no more cycles at once than it has workers; the next starts when one ends', async () => {
    const { queue, started, settle } = controlled(1);
    expect(queue.add('a', 'd1')).toBe(true);
    expect(queue.add('b', 'd2')).toBe(true);
    expect(started).toEqual(['a']);
    expect(queue.snapshot()).toMatchObject({ queue_length: 1, queue: [{ target: 'b', delivery: 'd2' }], running: [{ target: 'a', delivery: 'd1' }] });
    await settle('a');
    expect(started).toEqual(['a', 'b']);
    expect(queue.snapshot()).toMatchObject({ queue_length: 0, queue: [], running: [{ target: 'b', delivery: 'd2' }] });
    await settle('b');
    expect(queue.snapshot()).toEqual({ queue_length: 0, queue: [], running: [] });
  });

  it('a failed cycle frees its worker like a finished one: the queue keeps going', async () => {
    const { queue, started, settle } = controlled(1);
    queue.add('a', 'd1');
    queue.add('b', 'd2');
    await settle('a', 'fail');
    expect(started).toEqual(['a', 'b']);
    expect(queue.snapshot().running).toMatchObject([{ target: 'b' }]);
    // The same target again after its failure runs again.
    expect(queue.add('a', 'd3')).toBe(true);
    await settle('b');
    expect(started).toEqual(['a', 'b', 'a']);
  });

  it('a target waiting behind its own running cycle lets another target pass it to a free worker', async () => {
    const { queue, started, settle } = controlled(2);
    queue.add('a', 'd1');
    queue.add('a', 'd2');
    queue.add('b', 'd3');
    queue.add('c', 'd4');
    // a runs and a waits for it; b takes the second worker; c waits for a worker.
    expect(started).toEqual(['a', 'b']);
    expect(queue.snapshot().queue.map((i) => i.target)).toEqual(['a', 'c']);
    await settle('b');
    // a is still running: c, behind the waiting a, takes the free worker.
    expect(started).toEqual(['a', 'b', 'c']);
    await settle('a');
    expect(started).toEqual(['a', 'b', 'c', 'a']);
  });

  it('GET /queue shows when each item was queued and started, as ISO times', async () => {
    const { queue, settle } = controlled(1);
    const before = Date.now();
    queue.add('a', 'd1');
    queue.add('b', 'd2');
    const s = queue.snapshot();
    const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
    expect(s.running).toEqual([{ target: 'a', delivery: 'd1', queued_at: expect.stringMatching(iso), started_at: expect.stringMatching(iso) }]);
    expect(s.queue).toEqual([{ target: 'b', delivery: 'd2', queued_at: expect.stringMatching(iso) }]);
    for (const t of [s.running[0]!.queued_at, s.running[0]!.started_at, s.queue[0]!.queued_at]) expect(Date.parse(t)).toBeGreaterThanOrEqual(before - 1);
    await settle('a');
    await settle('b');
  });

  it('stop() drops what waits, refuses new work, and settles only once every running cycle ended', async () => {
    const { queue, started, settle } = controlled(2);
    queue.add('a', 'd1');
    queue.add('b', 'd2');
    queue.add('a', 'd3');
    queue.add('c', 'd4');
    let stoppedWith: number | undefined;
    const stopping = queue.stop().then((n) => (stoppedWith = n));
    expect(queue.snapshot()).toMatchObject({ queue_length: 0, queue: [] });
    expect(queue.add('d', 'd5')).toBe(false);
    await settle('a');
    // b still runs: not stopped yet, and nothing new started on the free worker.
    expect(stoppedWith).toBeUndefined();
    expect(started).toEqual(['a', 'b']);
    await settle('b');
    await stopping;
    expect(stoppedWith).toBe(2);
    expect(started).toEqual(['a', 'b']);
  });

  it('stop() with nothing running settles at once with the number dropped', async () => {
    const { queue } = controlled(1);
    expect(await queue.stop()).toBe(0);
    expect(queue.add('a', 'd1')).toBe(false);
    expect(queue.snapshot()).toEqual({ queue_length: 0, queue: [], running: [] });
  });
});
