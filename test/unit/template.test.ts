/**
 * What a step's command, env value or message becomes once its placeholders are filled
 * in, and what is refused before anything runs: text from the repository never reaches
 * a command, and a value outside the plain alphabet (a tampered state file) is refused.
 */
import { describe, expect, it } from 'vitest';
import { commitTextIn, renderArgv, renderPlain, renderTemplate, unknownPlaceholders } from '../../src/deploy/template.js';
import { DeployScriptError } from '../../src/errors.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const values = { target: 'todo', sha: SHA, short_sha: SHA.slice(0, 12), branch: 'main', subject: 'fix; rm -rf /', 'step.name': 'build step' } as const;

function refusal(fn: () => unknown): DeployScriptError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DeployScriptError) return err;
    throw err;
  }
  throw new Error('expected a DeployScriptError');
}

describe('renderTemplate (messages: only logged and posted)', () => {
  it.each([
    ['deployed {{sha}} to {{target}}', `deployed ${SHA} to todo`],
    ['{{ short_sha }} on {{branch}}: {{subject}}', `${SHA.slice(0, 12)} on main: fix; rm -rf /`],
    ['{{step.name}} done', 'build step done'],
    ['{{tag}}|{{previous_sha}}|{{nope}}', '||'],
    ['no placeholders, {single} braces', 'no placeholders, {single} braces'],
    ['{{sha}}{{sha}}', `${SHA}${SHA}`],
  ])('%j → %j', (text, want) => {
    expect(renderTemplate(text, values)).toBe(want);
  });
});

describe('renderPlain / renderArgv (commands and env values)', () => {
  it('fills in SHAs, target and step names, every occurrence, each inside its one argument', () => {
    expect(renderArgv(['./deploy', '--sha={{sha}}', '{{ target }}-{{short_sha}}', '{{step.name}}', 'plain'], values, 'todo')).toEqual([
      './deploy',
      `--sha=${SHA}`,
      `todo-${SHA.slice(0, 12)}`,
      'build step',
      'plain',
    ]);
    expect(renderPlain('{{previous_sha}}', {}, 'todo', 'env X')).toBe('');
  });

  it.each([
    ['branch', 'POLLPRAY_BRANCH'],
    ['tag', 'POLLPRAY_TAG'],
    ['subject', 'POLLPRAY_SUBJECT'],
    ['step.output', 'POLLPRAY_STEP_OUTPUT'],
  ])('refuses {{%s}} in a command even when its value looks harmless, and names $%s', (key, variable) => {
    const err = refusal(() => renderArgv(['sh', '-c', `echo {{${key}}}`], { [key]: 'main' }, 'todo'));
    expect(err.message).toBe(`refused to put {{${key}}} into the command sh: its value is not plain text`);
    expect(err.hint).toBe(`use $${variable} in the script instead, and run pollpray validate`);
    expect(err.target).toBe('todo');
  });

  it('refuses commit text whatever the command is called: a shell by absolute path, or no shell at all', () => {
    for (const argv of [['/bin/sh', '-c', 'echo {{branch}}'], ['/usr/local/bin/notify', '{{branch}}']]) {
      expect(refusal(() => renderArgv(argv, { branch: 'main' }, 'todo')).message).toBe(`refused to put {{branch}} into the command ${argv[0]}: its value is not plain text`);
    }
  });

  it.each([['$(id)'], ['a;b'], ['x\ny'], ['`id`'], ["'quoted'"], ['a/b']])('refuses a previous_sha of %j (read back from a state file)', (value) => {
    const err = refusal(() => renderPlain('--from={{previous_sha}}', { previous_sha: value }, 'todo', 'env OLD'));
    expect(err.message).toBe('refused to put {{previous_sha}} into env OLD: its value is not plain text');
    expect(err.hint).toBe('use $POLLPRAY_* in the script instead, and run pollpray validate');
  });

  it('names the command by its first argument, or nothing for an empty argv', () => {
    expect(refusal(() => renderArgv(['./x', '{{previous_sha}}'], { previous_sha: 'a b$' }, 't')).message).toContain('into the command ./x:');
    expect(renderArgv([], values, 't')).toEqual([]);
  });
});

describe('what validate reports', () => {
  it.each([
    ['{{sha}} {{target}} {{short_sha}} {{previous_sha}} {{step.name}} {{step.output}} {{branch}} {{tag}} {{subject}}', []],
    ['{{sah}} and {{ Target }} and {{step.nmae}}', ['sah', 'Target', 'step.nmae']],
    ['{{}} {{ 1x }} {sha}', []],
  ])('unknown placeholders in %j: %j', (text, want) => {
    expect(unknownPlaceholders(text)).toEqual(want);
  });

  it('commitTextIn names each repository-controlled placeholder with its variable, in order, and nothing else', () => {
    expect(commitTextIn('{{sha}} {{ branch }}-{{tag}} {{subject}} {{step.output}} {{target}} {{bogus}}')).toEqual([
      { placeholder: 'branch', variable: 'POLLPRAY_BRANCH' },
      { placeholder: 'tag', variable: 'POLLPRAY_TAG' },
      { placeholder: 'subject', variable: 'POLLPRAY_SUBJECT' },
      { placeholder: 'step.output', variable: 'POLLPRAY_STEP_OUTPUT' },
    ]);
    expect(commitTextIn('{{sha}} {{short_sha}}')).toEqual([]);
  });
});
