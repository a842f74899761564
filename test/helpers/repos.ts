/** Repositories with submodules and Git LFS files, for the repository tests. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeOrigin, type Origin } from './origin.js';

/** Adds `sub` as a submodule at `at` in `origin` (local URL), commits and pushes; returns the commit. */
export async function addSubmodule(origin: Origin, sub: Origin, at: string, url = sub.url): Promise<string> {
  await origin.git(['-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', url, at]);
  await origin.git(['commit', '-q', '-m', `Add submodule ${at}`]);
  await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
  return origin.git(['rev-parse', 'HEAD']);
}

export function warnings(log: string, word: string): string[] {
  return log.split('\n').filter((l) => / WARN /i.test(l) || /"level":"warn"/.test(l)).filter((l) => l.includes(word));
}

/** An origin whose commit has `big.bin` stored in Git LFS (objects pushed to the file:// LFS store). */
export async function lfsOrigin(content: string): Promise<Origin> {
  const origin = await lfsTracking();
  writeFileSync(join(origin.work, 'big.bin'), content);
  await origin.git(['add', '.gitattributes', 'big.bin']);
  await origin.git(['commit', '-q', '-m', 'LFS file']);
  await origin.git(['lfs', 'push', 'origin', 'main']);
  await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
  return origin;
}

/**
 * An origin whose commit has `big.bin` in Git LFS with the objects only in a second
 * file:// store (`store.url`, a bare repository of its own), as a repository that keeps
 * its LFS objects on a separate LFS server; its `.lfsconfig` names that store, as such a
 * repository's does.
 */
export async function lfsOriginElsewhere(content: string): Promise<{ origin: Origin; store: Origin }> {
  const origin = await lfsTracking();
  const store = await makeOrigin();
  writeFileSync(join(origin.work, 'big.bin'), content);
  writeFileSync(join(origin.work, '.lfsconfig'), `[lfs]\n\turl = ${store.url}\n`);
  await origin.git(['add', '.gitattributes', '.lfsconfig', 'big.bin']);
  await origin.git(['commit', '-q', '-m', 'LFS file, objects on the LFS store']);
  await origin.git(['-c', `lfs.url=${store.url}`, 'lfs', 'push', 'origin', 'main']);
  await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
  return { origin, store };
}

/** A new origin whose work clone runs the LFS filter and tracks `*.bin` in LFS. */
async function lfsTracking(): Promise<Origin> {
  const origin = await makeOrigin();
  for (const [k, v] of [
    ['filter.lfs.clean', 'git-lfs clean -- %f'],
    ['filter.lfs.smudge', 'git-lfs smudge -- %f'],
    ['filter.lfs.process', 'git-lfs filter-process'],
    ['filter.lfs.required', 'true'],
  ] as const) await origin.git(['config', k, v]);
  await origin.git(['lfs', 'track', '*.bin']);
  return origin;
}
