#!/usr/bin/env node
// Bundles the CLI into dist/ (`npm run build` runs `tsc --noEmit` first as the type check).
// Why a bundler: a run spent ~0.4 s loading ~480 module files (execa, zod, winston,
// yaml, commander) before its first git call; one ESM bundle evaluates the same
// libraries without resolving and reading each file. Code splitting keeps what only
// some commands need (serve, doctor, demo, daemon, Redis) in chunks of their own, so a
// command loads only its chunks. Each command module is an entry point, so
// dist/commands/<name>.js keeps a stable name (bench/soak-gate.mjs preloads run's).
import { build } from 'esbuild';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const commands = readdirSync(join(root, 'src/commands'))
  .map((f) => join(root, 'src/commands', f))
  .filter((f) => f.endsWith('.ts') && readFileSync(f, 'utf8').includes('export function defineCommands('));

rmSync(join(root, 'dist'), { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: [join(root, 'src/main.ts'), ...commands],
  outbase: join(root, 'src'),
  outdir: join(root, 'dist'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Not minified, so a stack trace from an internal error still reads without a map.
  sourcemap: false,
  chunkNames: 'chunks/[name]-[hash]',
  // Bundled CommonJS libraries (winston, commander) call require() for Node built-ins;
  // an ESM file has no require of its own, so each output file gets one.
  banner: { js: "import { createRequire as __ppCreateRequire } from 'node:module'; const require = __ppCreateRequire(import.meta.url);" },
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: process.env.POLLPRAY_BUILD_META === '1',
});
if (result.metafile) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(root, 'dist/meta.json'), JSON.stringify(result.metafile));
}
