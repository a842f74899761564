/**
 * Whether the kernel can start a script the config names, judged from its `#!` line:
 * the mistakes that otherwise show up only as "could not start (ENOENT)" or as the
 * script's own exit 127, which reads as a failing build and is counted against the
 * commit. A file saved with Windows line endings (`#!/bin/bash\r`), an interpreter
 * that is not installed, and `#!/usr/bin/env node` under cron, whose PATH has no node.
 */
import { accessSync, closeSync, constants, openSync, readSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join } from 'node:path';
import { shellQuote } from '../git/ssh.js';

/** The PATH a target's scripts run with: its env's, else pollpray's own (cron's, under cron). */
export function scriptPath(target: { env: Record<string, string> }): string {
  return target.env.PATH ?? process.env.PATH ?? '';
}

export interface StartProblem {
  detail: string;
  fix: string;
}

/** Linux reads this much of a `#!` line (BINPRM_BUF_SIZE). */
const SHEBANG_BYTES = 256;

function firstLine(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const buf = Buffer.alloc(SHEBANG_BYTES);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const text = buf.subarray(0, n).toString('latin1');
    const end = text.indexOf('\n');
    return end === -1 ? text : text.slice(0, end);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where `program` is found on `path` as execvp would look, or undefined. */
function onPath(program: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) {
    const candidate = join(dir || '.', program);
    if (executable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Why `file` cannot start as a program, read from its `#!` line, or undefined (no `#!`
 * line, or one that holds). `path` is the PATH the script will run with, for `env`;
 * `pathKey` names where the config can set it.
 */
export function scriptStartProblem(file: string, path: string, pathKey = "PATH in the target's env"): StartProblem | undefined {
  const line = firstLine(file);
  if (!line?.startsWith('#!')) return undefined;
  const q = shellQuote(file);
  if (line.includes('\r')) {
    return {
      detail: `${file} has Windows line endings: its #! line ends in a carriage return, which the kernel takes as part of the interpreter's name`,
      fix: `sed -i 's/\\r$//' ${q}`,
    };
  }
  const rest = line.slice(2).trim();
  const space = rest.search(/[ \t]/);
  const interpreter = space === -1 ? rest : rest.slice(0, space);
  // Linux passes everything after the interpreter as one argument.
  const argument = space === -1 ? '' : rest.slice(space).trim();
  if (!interpreter) return { detail: `${file}'s #! line names no interpreter`, fix: `write the interpreter's full path after #! in ${q}` };
  // A relative interpreter is looked up from the script's working directory (the new code): not judged here.
  if (!isAbsolute(interpreter)) return undefined;
  if (!executable(interpreter)) {
    return { detail: `${file}'s #! interpreter ${interpreter} is not installed (or not executable)`, fix: `install it, or fix the #! line of ${q}` };
  }
  if (basename(interpreter) !== 'env' || !argument || argument.startsWith('-')) return undefined;
  const program = argument.split(/[ \t]/)[0]!;
  if (program.includes('=')) return undefined;
  if (program.includes('/') ? executable(program) : onPath(program, path)) return undefined;
  return {
    detail: `${file} runs ${program} through env (#!${rest}), and ${program} is not on the PATH it runs with (${path || 'empty'})`,
    fix: program.includes('/') ? `install ${program}, or fix the #! line of ${q}` : `write ${program}'s full path in the #! line of ${q}, or set ${pathKey}`,
  };
}
