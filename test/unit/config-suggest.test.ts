import { describe, expect, it } from 'vitest';
import { knownKeysAt } from '../../src/config/report.js';
import { configSchema } from '../../src/config/schema.js';
import { closestKey, editDistance } from '../../src/config/suggest.js';

describe('editDistance', () => {
  it.each([
    ['branch', 'branch', 0],
    ['brnach', 'branch', 1],
    ['brach', 'branch', 1],
    ['branches', 'branch', 2],
    ['', 'path', 4],
    ['kitten', 'sitting', 3],
  ])('%s → %s is %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('closestKey', () => {
  const target = knownKeysAt(configSchema, ['targets', 'todo']);
  it.each([
    ['brnach', 'branch'],
    ['Branch', 'branch'],
    ['keep-releases', 'keep_releases'],
    ['restarts', 'restart'],
    ['pth', 'path'],
    ['deploy_timout', 'deploy_timeout'],
    ['helth', 'health'],
    ['xyz', undefined],
    ['command', undefined],
  ])('%s → %s', (typed, expected) => {
    expect(closestKey(typed, target)).toBe(expected);
  });
});

describe('knownKeysAt', () => {
  it('walks objects, records and optional wrappers of the schema', () => {
    expect(knownKeysAt(configSchema, [])).toContain('targets');
    expect(knownKeysAt(configSchema, ['log'])).toEqual(['dir', 'level', 'retention', 'compress', 'format']);
    expect(knownKeysAt(configSchema, ['targets', 'any', 'ssh'])).toContain('known_hosts');
    expect(knownKeysAt(configSchema, ['targets', 'any', 'health'])).toContain('retries');
    expect(knownKeysAt(configSchema, ['concurrency'])).toEqual([]);
  });
});
