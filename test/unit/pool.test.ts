import { expect, it } from 'vitest';
import { mapLimit } from '../../src/deploy/pool.js';

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
