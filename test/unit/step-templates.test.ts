/**
 * Placeholders in a pipeline's commands and messages, as `pollpray validate` and every run
 * report them: text from the repository (branch, tag, subject, step output) is refused
 * wherever a command can appear (a step's run and its on_success / on_failure hooks),
 * whatever the command and however a shell is spelled, and an unknown placeholder is
 * refused in hook messages too.
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

const REFUSED = /: \{\{(branch|tag|subject|step\.output)\}\} carries text from the repository .* use \$POLLPRAY_(BRANCH|TAG|SUBJECT|STEP_OUTPUT) in your script instead$/;

describe('text from the repository in a command is refused', () => {
  it.each([
    ['in a step, shell by name', "run: [sh, -c, 'echo {{branch}}']", 'targets.todo.steps[0].run[2]'],
    ['in a step, shell by absolute path', "run: [/bin/sh, -c, 'echo {{branch}}']", 'targets.todo.steps[0].run[2]'],
    ['in a step, bash with combined flags', "run: [/usr/bin/bash, -ec, 'echo {{subject}}']", 'targets.todo.steps[0].run[2]'],
    ['in a step, behind env', "run: [env, sh, -c, 'echo {{subject}}']", 'targets.todo.steps[0].run[3]'],
    ['in a step, as the argument of a shell script', `run: [/bin/sh, -c, 'echo "$1"', sh, '{{branch}}']`, 'targets.todo.steps[0].run[4]'],
    ['in on_success', "run: [make]\non_success: { run: [mark-deployed, '{{tag}}'] }", 'targets.todo.steps[0].on_success.run[1]'],
    ['in on_failure', "run: [make]\non_failure: { run: [dash, -c, 'page {{step.output}}'] }", 'targets.todo.steps[0].on_failure.run[2]'],
  ])('%s', (_name, step, path) => {
    const found = problems(step);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(new RegExp(`^${path.replace(/[.[\]]/g, '\\$&')}${REFUSED.source}`));
  });

  it('values pollpray checks itself, and the POLLPRAY_* variables, are accepted in a shell script, a step and its hooks', () => {
    const safe = `[/bin/sh, -c, 'echo {{sha}} {{target}} "$POLLPRAY_BRANCH"']`;
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
