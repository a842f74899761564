import { describe, expect, it } from 'vitest';
import { releaseName, releasesToPrune } from '../../src/deploy/releases.js';
import { formatSize, parseSize } from '../../src/size.js';

describe('releasesToPrune', () => {
  const names = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
  it.each([
    ['keeps the newest N', 3, [], ['r3', 'r2', 'r1']],
    ['never removes current or previous, however old', 2, ['r1', 'r2'], ['r4', 'r3']],
    ['removes nothing when there are no more than N', 6, [], []],
  ] as const)('%s', (_name, keep, protect, pruned) => {
    expect(releasesToPrune(names, keep, new Set(protect))).toEqual(pruned);
  });
});

describe('releaseName', () => {
  it('is the UTC time then the short commit, so names sort by time', () => {
    expect(releaseName('3f2a9c1b7d0e'.padEnd(40, '0'), new Date('2026-11-23T16:05:01.482Z'))).toBe('20261123T160501.482Z-3f2a9c1b7d0e');
  });
});

describe('sizes', () => {
  it.each([
    ['500MB', 500 * 1024 ** 2],
    ['2GB', 2 * 1024 ** 3],
    ['0B', 0],
    ['1TB', 1024 ** 4],
    ['5 MB', undefined],
    ['5mb', undefined],
    ['1.5GB', undefined],
  ])('%s → %s bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });
  it('formats bytes as df -h would', () => {
    expect(formatSize(512)).toBe('512B');
    expect(formatSize(1536)).toBe('1.5KB');
    expect(formatSize(500 * 1024 ** 2)).toBe('500MB');
  });
});
