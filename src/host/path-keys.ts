/**
 * Which config key owns a path: a filesystem error names a path, and the fix is to the
 * directory behind one key (state_dir, log.dir, targets.<name>.path, …), not to
 * pollpray. The config registers its paths once it is loaded; every error that carries
 * a path (an errno from node, a line from git) is mapped here, so the same path always
 * gets the same key in every message.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import type { Config } from '../config/normalise.js';

export interface PathKey {
  /** The config key, as the README's config reference spells it: `state_dir`, `targets.app.path`. */
  key: string;
  /** What the key names (a directory or a file). */
  path: string;
  /** The target it belongs to, when it is one target's. */
  target?: string;
}

let registered: PathKey[] = [];

/** Every path a config names, longest first so the most specific key wins (log.dir may lie inside state_dir). */
export function pathKeys(config: Config): PathKey[] {
  const keys: PathKey[] = [
    { key: 'state_dir', path: config.stateDir },
    { key: 'log.dir', path: config.log.dir },
    ...(config.metricsFile ? [{ key: 'metrics_file', path: config.metricsFile }] : []),
  ];
  for (const t of config.targets) {
    const at = (k: string, path: string | undefined) => (path ? [{ key: `targets.${t.name}.${k}`, path, target: t.name }] : []);
    keys.push(...at('path', t.path), ...at('deploy', t.deploy), ...at('ssh.key', t.ssh.key), ...at('ssh.known_hosts', t.ssh.knownHosts));
  }
  return keys.map((k) => ({ ...k, path: resolve(k.path) })).sort((a, b) => b.path.length - a.path.length);
}

/** Called by loadConfig: from now on errors are mapped against this config's paths. */
export function registerPathKeys(config: Config): void {
  registered = pathKeys(config);
}

const inside = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);

/** The key whose path is `path` or contains it; undefined for a path no key names. */
export function keyOfPath(path: string, keys: readonly PathKey[] = registered): PathKey | undefined {
  const p = resolve(path);
  return keys.find((k) => inside(p, k.path));
}

/** `path` itself when it exists, else its nearest existing ancestor: where a mkdir or create really failed. */
export function nearestExisting(path: string): string {
  let p = resolve(path);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}
