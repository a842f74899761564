/**
 * Placeholders in a pipeline's commands and messages, as `pollpray validate` and every run
 * report them: a placeholder spliced into a shell script is refused wherever a command
 * can appear (a step's run and its on_success / on_failure hooks), however the shell
 * is spelled, and an unknown one is refused in hook messages too.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { HostFacts } from '../../src/config/normalise.js';
import { ConfigError } from '../../src/errors.js';

const host: HostFacts = { uid: 1000, home: '/home/deploy', hostname: 'web-01' };

/** A target with one step whose extra keys are the given YAML lines (indented under the step). */
function configWithStep(stepLines: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-templates-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'pollpray.yaml');
  writeFileSync(
    file,
    `targets:\n  todo:\n    repo: git@example.com:acme/todo.git\n    path: /srv/todo\n    steps:\n      - name: build\n${stepLines
      .split('\n')
      .map((l) => `        ${l}`)
      .join('\n')}\n`,
    { mode: 0o640 },
  );
  return file;
}

/** The problem lines as "<key path>: <message>", without file and line. */
function problems(stepLines: string): string[] {
  const file = configWithStep(stepLines);
  try {
    loadConfig(file, host);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.message
      .split('\n')
      .slice(1)
      .map((l) => l.replace(/^\S+:\d+ /, ''));
  }
  return [];
}

const SHELL = /: a placeholder inside a shell script would be spliced into shell code/;

describe('a placeholder inside a shell script is refused', () => {
  it.each([
    ['in a step, shell by name', "run: [sh, -c, 'echo {{branch}}']", 'targets.todo.steps[0].run[2]'],
    ['in a step, shell by absolute path', "run: [/bin/sh, -c, 'echo {{branch}}']", 'targets.todo.steps[0].run[2]'],
    ['in a step, bash with combined flags', "run: [/usr/bin/bash, -ec, 'echo {{subject}}']", 'targets.todo.steps[0].run[2]'],
    ['in on_success', "run: [make]\non_success: { run: [/bin/sh, -c, 'notify {{sha}}'] }", 'targets.todo.steps[0].on_success.run[2]'],
    ['in on_failure', "run: [make]\non_failure: { run: [dash, -c, 'page {{step.output}}'] }", 'targets.todo.steps[0].on_failure.run[2]'],
  ])('%s', (_name, step, path) => {
    const found = problems(step);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(new RegExp(`^${path.replace(/[.[\]]/g, '\\$&')}${SHELL.source}`));
  });

  it('the same value passed as an argument to the script is accepted, in a step and in its hooks', () => {
    const safe = `[/bin/sh, -c, 'echo "$1"', sh, '{{branch}}']`;
    expect(problems(`run: ${safe}\non_success: { run: ${safe} }\non_failure: { run: ${safe} }`)).toEqual([]);
  });
});

describe('an unknown placeholder is refused', () => {
  it.each([
    ['in an on_success message', "run: [make]\non_success: { message: 'done {{brnach}}' }", 'targets.todo.steps[0].on_success.message', 'brnach'],
    ['in an on_failure message', "run: [make]\non_failure: { message: 'failed {{stpe.name}}' }", 'targets.todo.steps[0].on_failure.message', 'stpe.name'],
    ['in an on_success command', "run: [make]\non_success: { run: [mark, '{{shaa}}'] }", 'targets.todo.steps[0].on_success.run[1]', 'shaa'],
    ['in an on_failure command', "run: [make]\non_failure: { run: [page, '{{targte}}'] }", 'targets.todo.steps[0].on_failure.run[1]', 'targte'],
  ])('%s', (_name, step, path, key) => {
    const found = problems(step);
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(`${path}: unknown placeholder {{${key}}}`);
  });
});
