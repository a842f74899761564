#!/usr/bin/env node
// `npm run build`: removes dist/, type-checks with `tsc --noEmit`, then bundles the CLI
// into dist/. A type error stops the build with no dist/ left to run (the e2e tests and
// bin/pollpray.js run dist/).
// Why a bundler: a run spent ~0.4 s loading ~480 module files (execa, zod, winston,
// yaml, commander) before its first git call; one ESM bundle evaluates the same
// libraries without resolving and reading each file. Code splitting keeps what only
// some commands need (serve, doctor, demo, daemon, Redis) in chunks of their own, so a
// command loads only its chunks. Each command module is an entry point, so
// dist/commands/<name>.js keeps a stable name (bench/soak-gate.mjs preloads run's).
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const commands = readdirSync(join(root, 'src/commands'))
  .map((f) => join(root, 'src/commands', f))
  .filter((f) => f.endsWith('.ts') && readFileSync(f, 'utf8').includes('export function defineCommands('));

/**
 * zod's `z` namespace re-exports all ~60 of its message locales (366 KB, 40% of the
 * config chunk), and a namespace cannot be tree-shaken. pollpray only ever uses the
 * English messages zod registers by default, so the locale index is cut down to `en`.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${join('node_modules', 'zod')}`) ? { path: join(args.resolveDir, '../locales/index.js'), namespace: 'zod-locales' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: "export { default as en } from './en.js';",
      resolveDir: join(args.path, '..'),
      loader: 'js',
    }));
  },
};

/**
 * main.ts imports everything but version.ts dynamically, so that `pollpray --version`
 * costs Node's start-up and two small files. Those dynamic imports are entry points of
 * the split build (stable names under dist/), and main.ts is bundled on its own,
 * without splitting, with them left as imports: a split build would make main.js
 * import esbuild's shared runtime chunk up front.
 */
const mainSource = readFileSync(join(root, 'src/main.ts'), 'utf8');
const mainImports = [...mainSource.matchAll(/import\('(\.\/[^']+)\.js'\)/g)].map((m) => join(root, 'src', `${m[1]}.ts`));
const keepMainImports = {
  name: 'keep-main-imports',
  setup(b) {
    b.onResolve({ filter: /^\.\/.*\.js$/ }, (args) =>
      args.kind === 'dynamic-import' && args.importer === join(root, 'src/main.ts') ? { path: args.path, external: true } : undefined,
    );
  },
};

const common = {
  absWorkingDir: root,
  outbase: join(root, 'src'),
  outdir: join(root, 'dist'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Not minified, so a stack trace from an internal error still reads without a map.
  sourcemap: false,
  legalComments: 'linked',
  logLevel: 'warning',
};

rmSync(join(root, 'dist'), { recursive: true, force: true });
if (!process.argv.includes('--no-check')) {
  const check = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json'), '--noEmit'], { stdio: 'inherit' });
  if (check.status !== 0) process.exit(check.status ?? 1);
}
const result = await build({
  ...common,
  entryPoints: [...mainImports, ...commands],
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  // Bundled CommonJS libraries (winston, commander) call require() for Node built-ins;
  // an ESM file has no require of its own, so each output file gets one.
  banner: { js: "import { createRequire as __ppCreateRequire } from 'node:module'; const require = __ppCreateRequire(import.meta.url);" },
  plugins: [zodEnglishOnly],
  metafile: process.env.POLLPRAY_BUILD_META === '1',
});
await build({ ...common, entryPoints: [join(root, 'src/main.ts')], plugins: [keepMainImports] });
if (result.metafile) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(root, 'dist/meta.json'), JSON.stringify(result.metafile));
}
