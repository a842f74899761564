/**
 * Switching `current` to a release. pollpray owns `current` only as a symlink: anything
 * else there (a directory from before the releases layout, a file put there by hand) is
 * the operator's, and is refused untouched rather than replaced.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { switchCurrent } from '../../src/deploy/releases.js';

function targetPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-switch-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'releases', 'r1'), { recursive: true });
  mkdirSync(join(dir, 'releases', 'r2'), { recursive: true });
  return dir;
}

describe('switchCurrent', () => {
  it('creates current, then moves it from one release to the next, leaving no temp link', () => {
    const path = targetPath();
    switchCurrent(path, 'r1', 'app');
    expect(readlinkSync(join(path, 'current'))).toBe(join('releases', 'r1'));
    switchCurrent(path, 'r2', 'app');
    expect(readlinkSync(join(path, 'current'))).toBe(join('releases', 'r2'));
    expect(readdirSync(path).sort()).toEqual(['current', 'releases']);
  });

  it('a current that is a regular file is refused and kept as it was', () => {
    const path = targetPath();
    const current = join(path, 'current');
    writeFileSync(current, 'the operator put this here\n');
    expect(() => switchCurrent(path, 'r1', 'app')).toThrow(`${current} exists and is not a symlink`);
    expect(readFileSync(current, 'utf8')).toBe('the operator put this here\n');
    expect(readdirSync(path).sort()).toEqual(['current', 'releases']);
  });

  it('a current that is a directory is refused, kept, and nothing is left next to it', () => {
    const path = targetPath();
    const current = join(path, 'current');
    mkdirSync(current);
    writeFileSync(join(current, 'index.html'), 'old site\n');
    expect(() => switchCurrent(path, 'r1', 'app')).toThrow(`${current} exists and is not a symlink`);
    expect(readFileSync(join(current, 'index.html'), 'utf8')).toBe('old site\n');
    expect(readdirSync(path).sort()).toEqual(['current', 'releases']);
  });

  it('a current symlink that points elsewhere is still pollpray\'s to switch', () => {
    const path = targetPath();
    symlinkSync('/nonexistent', join(path, 'current'));
    switchCurrent(path, 'r1', 'app');
    expect(readlinkSync(join(path, 'current'))).toBe(join('releases', 'r1'));
  });
});

describe('switchCurrent, anything else that is not a symlink', () => {
  it('a current that is a named pipe is refused and kept, not renamed over', () => {
    const path = targetPath();
    const current = join(path, 'current');
    execFileSync('mkfifo', [current]);
    expect(() => switchCurrent(path, 'r1', 'app')).toThrow(`${current} exists and is not a symlink`);
    expect(lstatSync(current).isFIFO()).toBe(true);
    expect(readdirSync(path).sort()).toEqual(['current', 'releases']);
  });
});
