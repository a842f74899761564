import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { init } from '../../src/commands/init.js';
import { validate } from '../../src/commands/validate.js';
import { loadConfig } from '../../src/config/load.js';
import { knownKeysAt } from '../../src/config/report.js';
import { configSchema } from '../../src/config/schema.js';
import { STARTER_CONFIG } from '../../src/config/starter.js';
import { ConfigError } from '../../src/errors.js';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-init-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('init', () => {
  it('writes the starter config with mode 0640, and it passes loadConfig as written', async () => {
    const path = join(tempDir(), 'pollpray.yaml');
    expect(await init({ path, uid: 1000 })).toEqual({ path });
    expect(readFileSync(path, 'utf8')).toBe(STARTER_CONFIG);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    const config = loadConfig(path, { uid: 1000, home: '/home/deploy' });
    expect(config.targets.map((t) => t.name)).toEqual(['todo']);
    expect(config.targets[0]?.deploy).toBe(join(path, '..', 'deploy.sh'));
  });

  it('creates missing parent directories (e.g. ~/.config/pollpray)', async () => {
    const path = join(tempDir(), '.config/pollpray/config.yaml');
    await init({ path });
    expect(readFileSync(path, 'utf8')).toBe(STARTER_CONFIG);
  });

  it('never overwrites an existing file', async () => {
    const path = join(tempDir(), 'pollpray.yaml');
    writeFileSync(path, 'mine\n');
    await expect(init({ path })).rejects.toThrow(ConfigError);
    await expect(init({ path })).rejects.toMatchObject({ message: expect.stringContaining('already exists'), hint: expect.stringContaining('remove it first or choose another path') });
    expect(readFileSync(path, 'utf8')).toBe('mine\n');
  });
});

describe('the starter config', () => {
  /** Every key the schema knows, with the object path it belongs to. */
  const objects: (string | number)[][] = [[], ['log'], ['defaults'], ['serve'], ['coordination'], ['targets', 'x'], ['targets', 'x', 'ssh'], ['targets', 'x', 'health'], ['targets', 'x', 'verify'], ['notify', 0]];
  const keys = [...new Set(objects.flatMap((path) => knownKeysAt(configSchema, path)))];

  it.each(keys)('explains the key %s (present, possibly commented out)', (key) => {
    expect(STARTER_CONFIG).toMatch(new RegExp(`^\\s*(#\\s*)?${key}:`, 'm'));
  });

  it('has no unknown keys hiding in comments', () => {
    // A commented-out line that looks like a key must be one the schema knows, so
    // uncommenting it can never produce "unknown key".
    const commented = [...STARTER_CONFIG.matchAll(/^\s*#\s{0,3}([a-z_]+):(?:\s|$)/gm)].map((m) => m[1]);
    for (const key of commented) expect(keys).toContain(key);
  });
});

describe('validate', () => {
  it('returns the file it checked and the target names', async () => {
    const cwd = tempDir();
    const path = join(cwd, 'pollpray.yaml');
    await init({ path });
    // validate also checks the host: the starter's deploy script must exist and run, and
    // its path must be creatable by whoever runs the test (not only by root).
    writeFileSync(join(cwd, 'deploy.sh'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(path, readFileSync(path, 'utf8').replace('path: /var/www/todo ', `path: ${join(cwd, 'www', 'todo')} `));
    expect(await validate({ cwd, env: {}, home: cwd })).toEqual({ file: path, targets: ['todo'] });
  });

  it('throws one ConfigError listing the problems of the located file', async () => {
    const cwd = tempDir();
    const path = join(cwd, 'other.yaml');
    writeFileSync(path, 'targets:\n  todo:\n    repo: x\n    path: rel\n    brnach: main\n', { mode: 0o640 });
    await expect(validate({ config: 'other.yaml', cwd, env: {}, home: cwd })).rejects.toMatchObject({
      message: [`${path} has 2 problems:`, `${path}:4 targets.todo.path: must be an absolute path (starting with /)`, `${path}:5 targets.todo.brnach: unknown key (did you mean "branch"?)`].join('\n'),
    });
  });
});
