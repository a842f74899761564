/**
 * `pollpray history` reads history.jsonl from its end in 64 KiB chunks
 * (readLinesBackward). Lines that cross a chunk boundary, a newline on either edge of
 * a chunk, a character split between two chunks and the read budget are where a reader
 * like this loses, doubles or glues lines: each case is compared with the plain reading
 * of the same bytes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { readLinesBackward } from '../../src/state/store.js';

/** store.ts reads this much at a time. */
const CHUNK = 64 * 1024;

function fileWith(content: string | Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-history-lines-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'history.jsonl');
  writeFileSync(file, content);
  return file;
}

function backward(file: string, budget = 1 << 30, maxLine = 1 << 30): string[] {
  const seen: string[] = [];
  readLinesBackward(file, budget, maxLine, (line) => (seen.push(line), true));
  return seen;
}

/**
 * The plain reading: the non-empty lines, last first, of the part of the file the
 * budget reaches (whole chunks from the end); a line cut by that part's start is not one.
 */
function expected(content: Buffer, budget = 1 << 30): string[] {
  const from = Math.max(0, content.length - Math.ceil(budget / CHUNK) * CHUNK);
  const pieces: Buffer[] = [];
  let start = from;
  for (let i = from; i <= content.length; i++) {
    if (i === content.length || content[i] === 0x0a) {
      pieces.push(content.subarray(start, i));
      start = i + 1;
    }
  }
  if (from > 0) pieces.shift();
  return pieces
    .filter((p) => p.length > 0)
    .map((p) => p.toString('utf8'))
    .reverse();
}

/** `n` distinct lines of `width` bytes (newline not counted). */
function lines(n: number, width: number, tag = 'l'): string[] {
  return Array.from({ length: n }, (_, i) => `${tag}${i}:`.padEnd(width, String.fromCharCode(97 + (i % 26))));
}

describe('reading history lines last first, across chunk boundaries', () => {
  it.each([
    ['lines crossing several chunk boundaries, no newline at the end', `${lines(300, 1000).join('\n')}`],
    ['lines crossing several chunk boundaries, newline at the end', `${lines(300, 1000).join('\n')}\n`],
    ['a file of exactly one chunk', `${'x'.repeat(CHUNK - 6)}\nlast\n`],
    ['a file of one chunk and one byte', `f\n${'x'.repeat(CHUNK - 6)}\nlast\n`],
    ['a file of exactly two chunks', `${lines(2, CHUNK - 1).join('\n')}\n`],
    // The newline before the last line is the first byte of the last chunk, then its last byte.
    ['a newline on the first byte of a chunk', `${'a'.repeat(CHUNK)}\n${'b'.repeat(CHUNK - 1)}`],
    ['a newline on the last byte of a chunk', `${'a'.repeat(CHUNK)}${'b'.repeat(CHUNK - 1)}\n${'c'.repeat(CHUNK)}`],
    // The chunk at the file's start is short; the buffer still holds the chunk read before it, newlines included.
    ['a short first chunk after a chunk with newlines past its length', `${'x'.repeat(10)}${'y'.repeat(10)}\n\n${'z'.repeat(CHUNK - 12)}`],
    ['a line three chunks long between short ones', `first\n${'m'.repeat(3 * CHUNK)}\nlast`],
    ['empty lines and a file starting with a newline', `\n\none\n\n\ntwo\n${'z'.repeat(CHUNK)}\n\nthree\n\n`],
  ])('%s', (_what, content) => {
    const bytes = Buffer.from(content);
    expect(backward(fileWith(bytes))).toEqual(expected(bytes));
  });

  it('keeps a character whose bytes are split between two chunks', () => {
    // "é" is two bytes: its first ends one chunk, its second starts the next.
    const content = Buffer.concat([Buffer.from('x'.repeat(CHUNK - 1)), Buffer.from('é\n'), Buffer.from('y'.repeat(CHUNK - 3))]);
    const file = fileWith(content);
    expect(backward(file)).toEqual([`${'y'.repeat(CHUNK - 3)}`, `${'x'.repeat(CHUNK - 1)}é`]);
  });

  it('reads no further back than the budget, and never hands out the line cut by it', () => {
    const content = Buffer.from(`${lines(400, 700).join('\n')}\n`);
    const file = fileWith(content);
    for (const budget of [1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK]) {
      const seen = backward(file, budget);
      expect(seen, `budget ${budget}`).toEqual(expected(content, budget));
      expect(seen.length, `budget ${budget}`).toBeLessThan(400);
    }
    // One whole chunk: the lines that start after the file's last 64 KiB begin, and not one more.
    expect(backward(file, CHUNK)).toHaveLength(Math.floor((CHUNK - 1) / 701));
  });

  it('a line of exactly the longest length is kept; one byte more, carried across a chunk, is skipped', () => {
    const max = 1000;
    // Short lines, then the long line starting exactly where the last chunk starts (so the
    // whole of it is carried into the chunk before), then short lines to the end.
    const around = (long: number) => {
      const rest = CHUNK - long - 1;
      const shortLines = 'r'.repeat(9).concat('\n').repeat(Math.floor(rest / 10));
      return Buffer.from(`${'bbbbbbbbb\n'.repeat(10)}${'k'.repeat(long)}\n${shortLines}${'t'.repeat(rest % 10)}`);
    };
    const kept = around(max);
    expect(backward(fileWith(kept), 1 << 30, max)).toEqual(expected(kept));
    expect(backward(fileWith(kept), 1 << 30, max)).toContain('k'.repeat(max));
    const skipped = around(max + 1);
    expect(backward(fileWith(skipped), 1 << 30, max)).toEqual(expected(skipped).filter((l) => l !== 'k'.repeat(max + 1)));
  });

  it('no line longer than the longest length is handed out, wherever chunks cut it', () => {
    const max = 1000;
    // Each line is the limit plus 1..2000 bytes, at shifting offsets to the chunk edges:
    // some end in the chunk where they started, some are carried into the one before.
    const longLines = Array.from({ length: 300 }, (_, i) => `${i}:`.padEnd(max + 1 + ((i * 37) % 2000), 'q'));
    const content = Buffer.from(`${longLines.join('\nok\n')}\nend`);
    const seen = backward(fileWith(content), 1 << 30, max);
    expect(seen.filter((l) => l.length > max)).toEqual([]);
    expect(seen).toEqual(expected(content).filter((l) => l.length <= max));
  });

  it('an over-long first line of the file is skipped, and what follows it is read', () => {
    const content = `${'o'.repeat(3 * CHUNK)}\nnext\nlast`;
    expect(backward(fileWith(content), 1 << 30, 1000)).toEqual(['last', 'next']);
  });
});
