/**
 * What the kernel would make of a deploy script's #! line, judged before it is run: the
 * mistakes that otherwise end as "could not start (ENOENT)" or as the script's own
 * exit 127, which reads as a failing build.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { programProblem, scriptStartProblem } from '../../src/host/script-start.js';

function script(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-shebang-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'deploy.sh');
  writeFileSync(file, text, { mode: 0o755 });
  return file;
}

const PATH = '/usr/local/bin:/usr/bin:/bin';

it('a script saved with Windows line endings is named with the sed that fixes it', () => {
  for (const first of ['#!/bin/sh\r\n', '#!/usr/bin/env bash\r\n', '#!/bin/sh -e\r\n']) {
    const file = script(`${first}echo hi\r\n`);
    expect(scriptStartProblem(file, PATH)).toEqual({
      detail: `${file} has Windows line endings: its #! line ends in a carriage return, which the kernel takes as part of the interpreter's name`,
      fix: `sed -i 's/\\r$//' ${file}`,
    });
  }
});

it('an interpreter that is not installed, or not executable, is named', () => {
  const file = script('#!/opt/no-such/python3 -u\nprint(1)\n');
  expect(scriptStartProblem(file, PATH)).toEqual({ detail: `${file}'s #! interpreter /opt/no-such/python3 is not installed (or not executable)`, fix: `install it, or fix the #! line of ${file}` });
  const notExec = script('#!/bin/sh\n');
  chmodSync(notExec, 0o644);
  expect(scriptStartProblem(script(`#!${notExec}\n`), PATH)?.detail).toMatch(/is not installed \(or not executable\)$/);
  expect(scriptStartProblem(script('#!\necho\n'), PATH)?.detail).toMatch(/#! line names no interpreter$/);
});

it('#!/usr/bin/env <program> is judged against the PATH the script runs with', () => {
  const file = script('#!/usr/bin/env sh\necho hi\n');
  expect(scriptStartProblem(file, PATH)).toBeUndefined();
  // cron's PATH without the directory: env would exit 127, which would read as a failing build.
  expect(scriptStartProblem(file, '/nonexistent', 'targets.app.env.PATH')).toEqual({
    detail: `${file} runs sh through env (#!/usr/bin/env sh), and sh is not on the PATH it runs with (/nonexistent)`,
    fix: `write sh's full path in the #! line of ${file}, or set targets.app.env.PATH`,
  });
  const absolute = script('#!/usr/bin/env /opt/none/node\n');
  expect(scriptStartProblem(absolute, PATH)?.fix).toBe(`install /opt/none/node, or fix the #! line of ${absolute}`);
});

it('scripts it cannot judge, or that hold, pass', () => {
  for (const text of ['#!/bin/sh\necho hi\n', 'echo no shebang\n', '', '#!/usr/bin/env -S sh -e\n', '#!/usr/bin/env FOO=1 sh\n', '#!bin/relative\n', '#!/bin/sh', `#!/bin/sh ${'x'.repeat(400)}\n`]) {
    expect(scriptStartProblem(script(text), PATH), JSON.stringify(text)).toBeUndefined();
  }
  expect(scriptStartProblem('/no/such/file', PATH)).toBeUndefined();
  // A relative PATH entry is looked up from the new code, which may bring the program.
  expect(scriptStartProblem(script('#!/usr/bin/env pollpray-no-such-tool\n'), `node_modules/.bin:${PATH}`)).toBeUndefined();
  expect(scriptStartProblem(script('#!/usr/bin/env pollpray-no-such-tool\n'), `:${PATH}`)).toBeUndefined();
});

it('a program a step names is judged where it is the host\'s: on PATH, or an absolute path outside the deployed code', () => {
  const opts = { path: '/usr/bin:/bin', code: '/srv/app', key: 'targets.app.steps[0].run', pathKey: 'targets.app.env.PATH' };
  expect(programProblem('sh', opts)).toBeUndefined();
  expect(programProblem('pollpray-no-such-tool', opts)).toEqual({
    detail: 'pollpray-no-such-tool is not on the PATH it runs with (/usr/bin:/bin)',
    fix: "write pollpray-no-such-tool's full path in targets.app.steps[0].run, or set targets.app.env.PATH",
  });
  expect(programProblem('/opt/none/build', opts)).toEqual({ detail: '/opt/none/build is missing or not executable', fix: 'chmod +x /opt/none/build, or fix targets.app.steps[0].run' });
  // The commit's own: relative, inside the code, a relative PATH entry, or a template.
  for (const program of ['./build.sh', 'bin/build', '/srv/app/bin/build', '{{sha}}']) expect(programProblem(program, opts), program).toBeUndefined();
  expect(programProblem('pollpray-no-such-tool', { ...opts, path: 'node_modules/.bin:/usr/bin' })).toBeUndefined();
  // A found program is judged by its #! line too (npm is a script run through env node).
  const crlf = script('#!/bin/sh\r\n');
  expect(programProblem(crlf, opts)?.detail).toMatch(/has Windows line endings/);
});
