/**
 * `npm run build` must not leave a runnable dist/ behind when the type check fails: the
 * e2e tests and `bin/pollpray.js` run dist/, so an emitted broken build would still run.
 * A one-file project extending the real tsconfig shows what tsc does with an error.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it, onTestFinished } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

it('a type error fails the build and writes no JavaScript', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-build-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bad.ts'), "export const port: number = 'not a number';\n");
  writeFileSync(
    join(dir, 'tsconfig.json'),
    // types: [] only to keep the check fast (no @types/node to load for one line).
    JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), compilerOptions: { rootDir: '.', outDir: 'out', types: [] }, include: ['bad.ts'] }),
  );
  const r = spawnSync('node', [TSC, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
  expect(r.status, r.stdout + r.stderr).not.toBe(0);
  expect(r.stdout).toMatch(/bad\.ts.*error TS2322/);
  expect(existsSync(join(dir, 'out', 'bad.js'))).toBe(false);
});
