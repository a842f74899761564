import type { Config, Target } from '../config/normalise.js';
import { UsageError } from '../errors.js';

/** The targets named on the command line (all when none), or a usage error naming the known ones. */
export function selectTargets(config: Config, names: readonly string[]): Target[] {
  if (names.length === 0) return config.targets;
  const known = new Map(config.targets.map((t) => [t.name, t]));
  return names.map((name) => {
    const target = known.get(name);
    if (!target) {
      throw new UsageError(`no target named "${name}" in ${config.file}`, {
        hint: `known targets: ${[...known.keys()].join(', ') || '(none)'}`,
      });
    }
    return target;
  });
}
