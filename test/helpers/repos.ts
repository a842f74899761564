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
  const origin = await makeOrigin();
  for (const [k, v] of [
    ['filter.lfs.clean', 'git-lfs clean -- %f'],
    ['filter.lfs.smudge', 'git-lfs smudge -- %f'],
    ['filter.lfs.process', 'git-lfs filter-process'],
    ['filter.lfs.required', 'true'],
  ] as const) await origin.git(['config', k, v]);
  await origin.git(['lfs', 'track', '*.bin']);
  writeFileSync(join(origin.work, 'big.bin'), content);
  await origin.git(['add', '.gitattributes', 'big.bin']);
  await origin.git(['commit', '-q', '-m', 'LFS file']);
  await origin.git(['lfs', 'push', 'origin', 'main']);
  await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
  return origin;
}
