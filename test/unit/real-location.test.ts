/** realLocation on real symlinks in a temp dir: where a path leads, even where nothing exists yet. */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isWithin, realLocation } from '../../src/real-location.js';

function tempDir(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'pollpray-real-')));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('realLocation', () => {
  it('is the path itself when no symlink is on the way, existing or not', () => {
    const d = tempDir();
    mkdirSync(join(d, 'a'));
    expect(realLocation(join(d, 'a'))).toBe(join(d, 'a'));
    expect(realLocation(join(d, 'a', 'not', 'yet'))).toBe(join(d, 'a', 'not', 'yet'));
  });

  it('follows a symlinked parent, then appends what does not exist yet', () => {
    const d = tempDir();
    mkdirSync(join(d, 'data', 'srv'), { recursive: true });
    symlinkSync(join(d, 'data', 'srv'), join(d, 'srv'));
    expect(realLocation(join(d, 'srv', 'app', 'current'))).toBe(join(d, 'data', 'srv', 'app', 'current'));
  });

  it('follows relative links, chains of links, and a dangling link to where it would create', () => {
    const d = tempDir();
    mkdirSync(join(d, 'x', 'y'), { recursive: true });
    symlinkSync('../x/y', join(d, 'x', 'up'));
    symlinkSync(join(d, 'x', 'up'), join(d, 'chain'));
    symlinkSync('/nonexistent-pollpray/uploads', join(d, 'dangling'));
    expect(realLocation(join(d, 'chain', 'f'))).toBe(join(d, 'x', 'y', 'f'));
    expect(realLocation(join(d, 'dangling'))).toBe('/nonexistent-pollpray/uploads');
  });

  it('takes ".." after a symlink from the real parent, as the kernel does', () => {
    const d = tempDir();
    mkdirSync(join(d, 'x', 'y'), { recursive: true });
    symlinkSync(join(d, 'x', 'y'), join(d, 'l'));
    expect(realLocation(`${d}/l/../z`)).toBe(join(d, 'x', 'z'));
  });

  it('gives up on a symlink loop instead of hanging', () => {
    const d = tempDir();
    symlinkSync(join(d, 'b'), join(d, 'a'));
    symlinkSync(join(d, 'a'), join(d, 'b'));
    expect(realLocation(join(d, 'a', 'f'))).toMatch(/\/f$/);
  });
});

describe('isWithin', () => {
  it.each([
    ['/srv/a', '/srv/a', true],
    ['/srv/a/b', '/srv/a', true],
    ['/srv/ab', '/srv/a', false],
    ['/srv', '/srv/a', false],
    ['/anything', '/', true],
  ] as const)('%s within %s: %s', (inner, outer, within) => {
    expect(isWithin(inner, outer)).toBe(within);
  });
});
