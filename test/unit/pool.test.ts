import { expect, it } from 'vitest';
import { limiter, mapLimit } from '../../src/deploy/pool.js';

it('never has more than the limit in flight and keeps the order', async () => {
  let inFlight = 0;
  let peak = 0;
  const results = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, 5 * (8 - n)));
    inFlight--;
    return n * 10;
  });
  expect(results).toEqual([10, 20, 30, 40, 50, 60, 70]);
  expect(peak).toBe(3);
});

it('a shared limiter bounds work started from several places and serves it in order', async () => {
  const slot = limiter(2);
  let inFlight = 0;
  let peak = 0;
  const order: number[] = [];
  const job = (n: number) =>
    slot(async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      order.push(n);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return n;
    });
  const first = [job(1), job(2), job(3)];
  const second = [job(4), job(5)];
  expect(await Promise.all([...first, ...second])).toEqual([1, 2, 3, 4, 5]);
  expect(peak).toBe(2);
  expect(order).toEqual([1, 2, 3, 4, 5]);
});
