import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { configKey, readConnectRecord } from '../../src/config/connect-cache.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const key = configKey('/etc/pollpray/config.yaml', 'targets: {}\n', 1000);
const plan = {
  group: 'abc',
  path: '/var/lib/pollpray/ssh/0123456789abcdef',
  base: ['ssh', '-F', '/dev/null', '-o', 'BatchMode=yes'],
  dest: ['-p', '2222', '--', 'git@forge.example'],
  timeoutMs: 15000,
};

function record(data: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'pp-connect-'));
  dirs.push(dir);
  const file = join(dir, 'connect.json');
  writeFileSync(file, typeof data === 'string' ? data : JSON.stringify(data));
  return file;
}

it('reads back a well-formed record of the same config content', () => {
  const r = readConnectRecord(record({ v: 1, key, files: ['/srv/deploy.sh'], dirs: ['/var/lib/pollpray'], plans: [plan] }), key);
  expect(r?.plans).toEqual([plan]);
});

it('a record read back is untrusted data: another key, another program, a relative path or garbage is no record', () => {
  const other = configKey('/etc/pollpray/config.yaml', 'targets: {a: 1}\n', 1000);
  expect(readConnectRecord(record({ v: 1, key: other, files: [], dirs: [], plans: [plan] }), key)).toBeUndefined();
  expect(readConnectRecord(record({ v: 1, key, files: [], dirs: [], plans: [{ ...plan, base: ['sh', '-c', 'id'] }] }), key)).toBeUndefined();
  expect(readConnectRecord(record({ v: 1, key, files: [], dirs: [], plans: [{ ...plan, path: 'ssh/x' }] }), key)).toBeUndefined();
  expect(readConnectRecord(record({ v: 1, key, files: ['relative.sh'], dirs: [], plans: [plan] }), key)).toBeUndefined();
  expect(readConnectRecord(record({ v: 1, key, files: [], dirs: [], plans: [{ ...plan, dest: ['git@forge.example'] }] }), key)).toBeUndefined();
  expect(readConnectRecord(record({ v: 1, key, files: [], dirs: [], plans: [{ ...plan, timeoutMs: -1 }] }), key)).toBeUndefined();
  expect(readConnectRecord(record({ v: 1, key, files: [], dirs: ['state'], plans: [plan] }), key)).toBeUndefined();
  expect(readConnectRecord(record({ v: 1, key, files: [], plans: [plan] }), key)).toBeUndefined();
  expect(readConnectRecord(record('{"v":1,'), key)).toBeUndefined();
  expect(readConnectRecord(record('null'), key)).toBeUndefined();
  expect(readConnectRecord(join(tmpdir(), 'pp-no-such-record.json'), key)).toBeUndefined();
});

it('the key changes with the content, the path and the user', () => {
  expect(configKey('/etc/pollpray/config.yaml', 'targets: {}\n', 1000)).toBe(key);
  expect(configKey('/etc/pollpray/config.yaml', 'targets: {}\n\n', 1000)).not.toBe(key);
  expect(configKey('/etc/pollpray/other.yaml', 'targets: {}\n', 1000)).not.toBe(key);
  expect(configKey('/etc/pollpray/config.yaml', 'targets: {}\n', 0)).not.toBe(key);
});
