import type { Config } from '../config/normalise.js';
import { mapLimit } from '../deploy/pool.js';
import { checkTargetSsh, type Check } from '../git/diagnose.js';
import { selectTargets } from './select.js';

export interface TestSshOptions {
  config: Config;
  targets: string[];
}

export interface TargetChecks {
  target: string;
  repo: string;
  ok: boolean;
  checks: Check[];
}

export interface TestSshReport {
  ok: boolean;
  targets: TargetChecks[];
}

/** Diagnoses each target's ssh access; `ok` only when every target reached its branch. */
export async function testSsh(options: TestSshOptions): Promise<TestSshReport> {
  const targets = selectTargets(options.config, options.targets);
  const results = await mapLimit(targets, options.config.concurrency, async (target): Promise<TargetChecks> => {
    const checks = await checkTargetSsh(options.config, target);
    const reached = checks.some((c) => c.name === 'branch' && c.status === 'ok');
    return { target: target.name, repo: target.repo, ok: reached && !checks.some((c) => c.status === 'fail'), checks };
  });
  return { ok: results.every((r) => r.ok), targets: results };
}
