/**
 * `pollpray demo`: the whole main job on an embedded default, with no network and no
 * root. A bare repository on a file:// URL stands in for the forge; the real run
 * command, config loader, state and logs do the rest.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { InternalError, EXIT } from '../errors.js';
import { run as exec } from '../exec/run.js';
import { closeLogging } from '../log/logger.js';
import { run, type RunReport } from './run.js';
import { status, type StatusReport } from './status.js';
import type { Command } from 'commander';
import type { CliContext } from './cli-context.js';
import { out } from '../log/console.js';
import { outcomeLine, statusLines } from '../render/text.js';

export interface DemoOptions {
  keep: boolean;
  /** Called with each step's narration and result as the demo goes. */
  show: (step: DemoStep) => void;
}

export type DemoStep =
  | { kind: 'say'; text: string }
  | { kind: 'run'; title: string; report: RunReport }
  | { kind: 'status'; report: StatusReport };

export interface DemoResult {
  dir: string;
  kept: boolean;
  deploys: number;
}

const DEPLOY_SCRIPT = `#!/bin/sh
# Runs in the new checkout after every deploy. A real one would install
# dependencies, migrate and collect static files (see deploy-scripts/).
set -eu
echo "deploying \${POLLPRAY_TARGET}: \${POLLPRAY_OLD_SHA:-none} -> \${POLLPRAY_NEW_SHA}"
cp index.html "\${POLLPRAY_REPO_DIR}/../served.html"
`;

async function git(args: string[], cwd: string): Promise<string> {
  const result = await exec(['git', '-c', 'user.name=pollpray demo', '-c', 'user.email=demo@pollpray.invalid', '-c', 'commit.gpgsign=false', ...args], {
    cwd,
    timeoutMs: 30_000,
    env: { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
  });
  if (result.exitCode !== 0) throw new InternalError(`demo: git ${args[0]} failed: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

export async function demo(options: DemoOptions): Promise<DemoResult> {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-demo-'));
  const say = (text: string) => options.show({ kind: 'say', text });
  let deploys = 0;
  try {
    const origin = join(dir, 'origin.git');
    const work = join(dir, 'developer');
    await git(['init', '-q', '--bare', '-b', 'main', origin], dir);
    await git(['clone', '-q', origin, work], dir);
    writeFileSync(join(work, 'index.html'), '<h1>hello, v1</h1>\n');
    await git(['add', '-A'], work);
    await git(['commit', '-q', '-m', 'First version'], work);
    await git(['push', '-q', 'origin', 'HEAD:main'], work);

    writeFileSync(join(dir, 'deploy.sh'), DEPLOY_SCRIPT);
    chmodSync(join(dir, 'deploy.sh'), 0o755);
    const configFile = join(dir, 'pollpray.yaml');
    writeFileSync(
      configFile,
      [
        `state_dir: ${join(dir, 'state')}`,
        `log: { dir: ${join(dir, 'log')}, level: info }`,
        'targets:',
        '  site:',
        `    repo: file://${origin}`,
        '    branch: main',
        `    path: ${join(dir, 'www', 'site')}`,
        '    deploy: deploy.sh',
        '    deploy_timeout: 1m',
        '',
      ].join('\n'),
      { mode: 0o640 },
    );
    say(`In ${dir}: a bare repo stands in for the forge, with a config and a deploy script.`);
    const config = loadConfig(configFile);
    const served = join(dir, 'www', 'served.html');
    const cycle = async (title: string) => {
      const report = await run({ config, targets: [], dryRun: false, force: false });
      deploys += report.outcomes.filter((o) => o.result === 'deployed').length;
      options.show({ kind: 'run', title, report });
      if (existsSync(served)) say(`The site now serves: ${readFileSync(served, 'utf8').trim()}`);
    };

    await cycle('pollpray run (first deploy: clones and runs deploy.sh)');
    await cycle('pollpray run (nothing changed: one ls-remote, no fetch, no script)');
    writeFileSync(join(work, 'index.html'), '<h1>hello, v2</h1>\n');
    await git(['commit', '-q', '-am', 'Second version'], work);
    await git(['push', '-q', 'origin', 'HEAD:main'], work);
    say('A developer pushes a new commit ("Second version").');
    await cycle('pollpray run (new commit: fetch, reset to the exact commit, deploy.sh)');
    options.show({ kind: 'status', report: status(config) });
    await closeLogging();
    return { dir, kept: options.keep, deploys };
  } finally {
    await closeLogging();
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  }
}

export function defineCommands(program: Command, cli: CliContext): void {
  program
    .command('demo')
    .description('show a full deploy cycle on local temp repos (no network, no root)')
    .option('--keep', 'keep the demo directory to look around')
    .action(async (opts: { keep?: boolean }) => {
      const result = await demo({
        keep: !!opts.keep,
        show: (step) => {
          if (step.kind === 'say') out(`\n# ${step.text}`);
          if (step.kind === 'run') {
            out(`\n$ ${step.title}`);
            for (const o of step.report.outcomes) out(`  ${outcomeLine(o, false)}`);
          }
          if (step.kind === 'status') {
            out('\n$ pollpray status');
            for (const line of statusLines(step.report)) out(`  ${line}`);
          }
        },
      });
      out(result.kept ? `\nKept ${result.dir} (config: ${result.dir}/pollpray.yaml, logs in log/).` : '\nDemo finished; temp files removed (pass --keep to look around).');
      cli.setExit(result.deploys === 2 ? EXIT.ok : EXIT.failed);
    });
}
