import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['0s', 0],
    ['30s', 30_000],
    ['10m', 600_000],
    ['2h', 7_200_000],
    ['14d', 14 * 86_400_000],
    [' 5m ', 300_000],
  ])('%s → %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5', 'five', '5 minutes', '5min', '1.5h', '-5s', '5S', '1h30m', 'm'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [250, '250ms'],
    [1500, '1.5s'],
    [12_000, '12s'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [3_600_000, '60m'],
  ])('%i ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
