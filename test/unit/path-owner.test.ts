import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { normalise } from '../../src/config/normalise.js';
import { claimPath, ownerRecord, readPathOwner, requirePathOwner } from '../../src/deploy/path-owner.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(name = 'app') {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-owner-'));
  dirs.push(dir);
  const path = join(dir, 'www');
  mkdirSync(path);
  const make = (stateDir: string, file: string, target = name) => {
    mkdirSync(join(stateDir, 'targets', target), { recursive: true });
    return normalise({ state_dir: stateDir, targets: { [target]: { repo: 'git@h:a.git', path, strategy: 'releases' } } }, file, { uid: process.getuid?.() ?? 0, home: dir });
  };
  return { dir, path, mine: make(join(dir, 'state'), join(dir, 'a.yaml')), other: make(join(dir, 'state-other'), join(dir, 'b.yaml')), make };
}

describe('the record of which state dir deploys a path', () => {
  it('is written by the first claim, and refuses another state dir naming its config', () => {
    const { mine, other, dir } = setup();
    const [t] = mine.targets;
    const [o] = other.targets;
    if (!t || !o) throw new Error('no target');
    requirePathOwner(mine, t);
    claimPath(mine, t);
    expect(readPathOwner(t)).toEqual({ version: 1, stateDir: join(dir, 'state'), config: join(dir, 'a.yaml'), target: 'app' });
    expect(() => requirePathOwner(mine, t)).not.toThrow();
    expect(() => requirePathOwner(other, o)).toThrow(new RegExp(`deployed by another pollpray: config ${join(dir, 'a.yaml')} \\(state_dir ${join(dir, 'state')}, target app\\)`));
    // The other never overwrites it.
    claimPath(other, o);
    expect(readPathOwner(t)?.stateDir).toBe(join(dir, 'state'));
  });

  it('a record that does not hold (garbage, a control character, a link) counts as absent; nothing is written through a link', () => {
    const { mine, other, dir } = setup();
    const [t] = mine.targets;
    const [o] = other.targets;
    if (!t || !o) throw new Error('no target');
    const { dir: recordDir, file } = ownerRecord(t);
    mkdirSync(recordDir);
    for (const text of ['not json', JSON.stringify({ version: 1, stateDir: join(dir, 'state-other'), config: '/x\u001b[2J', target: 'app' }), JSON.stringify({ version: 1, stateDir: 'relative', config: '/x', target: 'app' })]) {
      writeFileSync(file, text);
      expect(readPathOwner(t)).toBeUndefined();
      expect(() => requirePathOwner(mine, t)).not.toThrow();
    }
    rmSync(file);
    const victim = join(dir, 'victim.json');
    const planted = JSON.stringify({ version: 1, stateDir: join(dir, 'state-other'), config: join(dir, 'b.yaml'), target: 'app' });
    writeFileSync(victim, planted);
    symlinkSync(victim, file);
    expect(readPathOwner(t)).toBeUndefined();
    claimPath(mine, t);
    expect(readFileSync(victim, 'utf8')).toBe(planted);
    expect(readPathOwner(t)?.stateDir).toBe(join(dir, 'state'));
    expect(() => requirePathOwner(other, o)).toThrow(/deployed by another pollpray/);
  });

  it('a target renamed in the same config and state dir keeps the path; a state dir that is gone gives it up', () => {
    const { mine, make, dir } = setup();
    const [t] = mine.targets;
    if (!t) throw new Error('no target');
    claimPath(mine, t);
    const renamed = make(join(dir, 'state'), join(dir, 'a.yaml'), 'web');
    const [r] = renamed.targets;
    if (!r) throw new Error('no target');
    expect(() => requirePathOwner(renamed, r)).not.toThrow();
    claimPath(renamed, r);
    expect(readPathOwner(r)?.target).toBe('web');

    const moved = make(join(dir, 'state-moved'), join(dir, 'a.yaml'), 'web');
    const [m] = moved.targets;
    if (!m) throw new Error('no target');
    expect(() => requirePathOwner(moved, m)).toThrow(/deployed by another pollpray/);
    rmSync(join(dir, 'state'), { recursive: true });
    expect(() => requirePathOwner(moved, m)).not.toThrow();
  });
});
