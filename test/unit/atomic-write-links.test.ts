/**
 * writeFileAtomic's temp name is predictable (`.<file>.tmp-<pid>`): a link planted there
 * must never be written through, whoever could plant it.
 */
import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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
