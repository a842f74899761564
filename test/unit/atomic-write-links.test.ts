/**
 * writeFileAtomic's temp name is predictable (`.<file>.tmp-<pid>`): a link planted there
 * must never be written through, whoever could plant it.
 */
import { linkSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { writeFileAtomic, writeFileAtomicAsync } from '../../src/state/store.js';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-atomic-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

it.each([
  ['writeFileAtomic', (file: string, text: string) => Promise.resolve(writeFileAtomic(file, text))],
  ['writeFileAtomicAsync', (file: string, text: string) => writeFileAtomicAsync(file, text)],
] as const)('%s: a symlink planted at its temp name is replaced, not written through', async (_name, write) => {
  const dir = tempDir();
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious\n');
  const file = join(dir, 'state.json');
  symlinkSync(victim, join(dir, `.state.json.tmp-${process.pid}`));
  await write(file, '{"ok":true}\n');
  expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  expect(lstatSync(file).isFile()).toBe(true);
  expect(readFileSync(file, 'utf8')).toBe('{"ok":true}\n');
});

it.each([
  ['writeFileAtomic', (file: string, text: string) => Promise.resolve(writeFileAtomic(file, text))],
  ['writeFileAtomicAsync', (file: string, text: string) => writeFileAtomicAsync(file, text)],
] as const)('%s: a hard link or a file planted at its temp name is replaced, not written through', async (_name, write) => {
  const dir = tempDir();
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious\n', { mode: 0o666 });
  const file = join(dir, 'metrics.prom');
  const tmp = join(dir, `.metrics.prom.tmp-${process.pid}`);
  linkSync(victim, tmp);
  await write(file, 'pollpray_up 1\n');
  expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  expect(statSync(victim).nlink).toBe(1);
  expect(readFileSync(file, 'utf8')).toBe('pollpray_up 1\n');
  // A file someone else made there (their mode, their inode) never becomes the written file.
  writeFileSync(tmp, 'planted\n', { mode: 0o666 });
  await write(file, 'pollpray_up 2\n');
  expect(statSync(file).mode & 0o777).toBe(0o640);
  expect(readFileSync(file, 'utf8')).toBe('pollpray_up 2\n');
});
