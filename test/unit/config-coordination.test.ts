import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { HostFacts } from '../../src/config/normalise.js';
import { ConfigError } from '../../src/errors.js';

const host: HostFacts = { uid: 1000, home: '/home/deploy', hostname: 'web-01' };
const TARGET = 'targets:\n  todo:\n    repo: git@example.com:acme/todo.git\n    path: /srv/todo\n';

function load(yaml: string, facts: HostFacts = host) {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-coord-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'pollpray.yaml');
  writeFileSync(file, yaml);
  chmodSync(file, 0o640);
  return { file, dir, config: () => loadConfig(file, facts) };
}

function problems(yaml: string): string[] {
  const { file, config } = load(yaml);
  try {
    config();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.message.split('\n').slice(1).map((l) => l.replace(`${file}:`, ''));
  }
  throw new Error('expected a ConfigError');
}

describe('coordination config', () => {
  it('fills in defaults: one slot, no canary, no wait, 30s lease, wait when Redis is down', () => {
    const { config } = load(`coordination: { redis: "redis://127.0.0.1:6379/0", group: todo-prod }\n${TARGET}`);
    expect(config().coordination).toEqual({
      redis: 'redis://127.0.0.1:6379/0',
      group: 'todo-prod',
      maxInFlight: 1,
      canary: false,
      waitMs: 0,
      leaseMs: 30_000,
      onUnavailable: 'wait',
      passwordFile: undefined,
      staleAfterMs: 900_000,
      requireCanary: false,
    });
  });

  it('resolves password_file against the config file and reads every key', () => {
    const { config, dir } = load(
      `coordination:\n  redis: redis://10.0.0.5:6379/2\n  group: todo-prod\n  max_in_flight: 3\n  canary: true\n  wait: 10m\n  lease: 5s\n  on_unavailable: deploy\n  password_file: redis.pw\n  stale_after: 1h\n${TARGET}`,
    );
    expect(config().coordination).toMatchObject({ maxInFlight: 3, canary: true, waitMs: 600_000, leaseMs: 5000, onUnavailable: 'deploy', passwordFile: join(dir, 'redis.pw'), staleAfterMs: 3_600_000 });
  });

  it('host_id defaults to the host name; the config sets it; POLLPRAY_HOST_ID overrides both', () => {
    expect(load(TARGET).config().hostId).toBe('web-01');
    expect(load(`host_id: web-07\n${TARGET}`).config().hostId).toBe('web-07');
    expect(load(`host_id: web-07\n${TARGET}`, { ...host, hostIdOverride: 'sim-3' }).config().hostId).toBe('sim-3');
  });

  it('refuses a POLLPRAY_HOST_ID that could not be a host id', () => {
    expect(() => load(TARGET, { ...host, hostIdOverride: 'a b/c' }).config()).toThrow(/POLLPRAY_HOST_ID "a b\/c" is not a valid host id/);
  });

  it.each([
    ['a URL that is not redis', 'coordination: { redis: "http://x", group: g }', /coordination\.redis: must be a redis:\/\/ or rediss:\/\/ URL/],
    ['a group with spaces', 'coordination: { redis: "redis://x:6379", group: "my group" }', /coordination\.group: must match/],
    ['max_in_flight 0', 'coordination: { redis: "redis://x:6379", group: g, max_in_flight: 0 }', /coordination\.max_in_flight/],
    ['an unknown on_unavailable', 'coordination: { redis: "redis://x:6379", group: g, on_unavailable: panic }', /coordination\.on_unavailable/],
    ['a password twice', 'coordination: { redis: "redis://:hunter22@x:6379", group: g, password_file: /etc/pw }', /coordination\.password_file: the redis URL already has a password/],
    ['a lease under a second', 'coordination: { redis: "redis://x:6379", group: g, lease: 500ms }', /coordination\.lease: must be at least 1s/],
    ['a host_id with a slash', 'host_id: "web/1"', /host_id: must be letters/],
  ])('reports %s with its line and key', (_name, line, expected) => {
    const found = problems(`${line}\n${TARGET}`);
    expect(found.join('\n')).toMatch(expected);
    expect(found[0]).toMatch(/^1 /);
  });

  it('never shows the password of a redis URL in a problem line', () => {
    const found = problems('coordination: { redis: "redis://:hunter22@x:6379", group: g, password_file: /etc/pw }\n' + TARGET);
    expect(found.join('\n')).not.toContain('hunter22');
  });
});
