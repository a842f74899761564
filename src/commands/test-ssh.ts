import type { Config } from '../config/normalise.js';
import { mapLimit } from '../deploy/pool.js';
import { checkTargetSsh, type Check } from '../git/diagnose.js';
import { selectTargets } from './select.js';
import type { Command } from 'commander';
import { configFrom, type CliContext } from './cli-context.js';
import { EXIT } from '../errors.js';
import { out } from '../log/console.js';
import { checkLine } from '../render/checks.js';

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

export function defineCommands(program: Command, cli: CliContext): void {
  program
    .command('test-ssh')
    .description('check each target\'s deploy key, pinned host key, connection, repository and branch')
    .argument('[targets...]', 'target names (default: all)')
    .option('--json', 'machine-readable output')
    .action(async (targets: string[], opts: { json?: boolean }, cmd: Command) => {
      const report = await testSsh({ config: await configFrom(cmd, 'report'), targets });
      if (opts.json) out(JSON.stringify(report, null, 2));
      else for (const t of report.targets) for (const check of t.checks) out(checkLine(t.target, check));
      cli.setExit(report.ok ? EXIT.ok : EXIT.failed);
    });
}
