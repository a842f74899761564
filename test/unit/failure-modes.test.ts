/**
 * The README's "Failure modes" table is checked against test/faults: every row number
 * has a test named `#<n> …`, except the rows the table itself says are not covered yet.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
/** Rows without a test, each saying "not covered yet" in its README row. */
const NOT_COVERED: number[] = [];

function readmeRows(): Map<number, string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## Failure modes$/m)[1]?.split(/^## /m)[0] ?? '';
  const rows = new Map<number, string>();
  for (const line of section.split('\n')) {
    const m = /^\| (\d+) \|/.exec(line);
    if (m) rows.set(Number(m[1]), line);
  }
  return rows;
}

function faultTestNumbers(): Set<number> {
  const dir = join(ROOT, 'test', 'faults');
  const numbers = new Set<number>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.test.ts'))) {
    for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/^\s*it\b[^'"`\n]*\(\s*['"`]#(\d+) /gm)) numbers.add(Number(m[1]));
  }
  return numbers;
}

it('the Failure modes table has rows 1-N without gaps, each with a #<n> test in test/faults or marked not covered yet', () => {
  const rows = readmeRows();
  expect(rows.size).toBeGreaterThanOrEqual(26);
  expect([...rows.keys()]).toEqual(Array.from({ length: rows.size }, (_, i) => i + 1));
  const tested = faultTestNumbers();
  const untested = [...rows.keys()].filter((n) => !tested.has(n));
  expect(untested).toEqual(NOT_COVERED);
  for (const n of NOT_COVERED) expect(rows.get(n)).toMatch(/not covered yet/);
  for (const n of tested) expect(rows.has(n), `test #${n} has no README row`).toBe(true);
});
