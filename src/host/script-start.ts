/**
 * Whether the kernel can start a script the config names, judged from its `#!` line:
 * the mistakes that otherwise show up only as "could not start (ENOENT)" or as the
 * script's own exit 127, which reads as a failing build and is counted against the
 * commit. A file saved with Windows line endings (`#!/bin/bash\r`), an interpreter
 * that is not installed, and `#!/usr/bin/env node` under cron, whose PATH has no node.
 */
import { accessSync, closeSync, constants, existsSync, openSync, readSync } from 'node:fs';
import { basename, delimiter, dirname, isAbsolute, join, relative } from 'node:path';
import type { Target } from '../config/normalise.js';
import { keyPathText } from '../config/report.js';
import type { KeyPath } from '../config/yaml-source.js';
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

/** A `#!` line as the kernel reads it, and the program `env` is asked to find, if any. */
interface Shebang {
  /** What follows `#!`, trimmed. */
  rest: string;
  interpreter: string;
  /** `#!/usr/bin/env node`: node (not for `env -S …` or `env VAR=x …`). */
  envProgram?: string;
  /** The line ends in a carriage return (a file saved with Windows line endings). */
  crlf: boolean;
}

function readShebang(file: string): Shebang | undefined {
  const line = firstLine(file);
  if (!line?.startsWith('#!')) return undefined;
  const rest = line.slice(2).trim();
  const space = rest.search(/[ \t]/);
  const interpreter = space === -1 ? rest : rest.slice(0, space);
  // Linux passes everything after the interpreter as one argument.
  const argument = space === -1 ? '' : rest.slice(space).trim();
  const word = argument.split(/[ \t]/)[0] ?? '';
  const envProgram = basename(interpreter) === 'env' && word && !word.startsWith('-') && !word.includes('=') ? word : undefined;
  return { rest, interpreter, ...(envProgram ? { envProgram } : {}), crlf: line.includes('\r') };
}

/** Whether this user may execute `file` (access(2) X_OK, as the kernel checks it). */
export function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where `program` is found on `path` as execvp would look; null when it is not there, and
 * undefined when that cannot be judged here: a relative entry (an empty one is `.`) is
 * looked up from the program's working directory, the new code, which may bring it.
 */
function onPath(program: string, path: string): string | null | undefined {
  const dirs = path.split(delimiter);
  if (dirs.some((d) => !isAbsolute(d))) return undefined;
  return dirs.map((d) => join(d, program)).find(executable) ?? null;
}

/**
 * What starting a bare `program` on `path` relies on, for the trust rule: each PATH
 * directory searched until it is found (a program planted in any of them would run
 * instead), then the file found. Undefined when it is not found, or when a relative
 * directory or one inside `code` comes first: then the commit brings it, not the host.
 */
export function lookupChain(program: string, path: string, code: string): string[] | undefined {
  const chain: string[] = [];
  for (const dir of path.split(delimiter)) {
    if (!isAbsolute(dir) || !relative(code, dir).startsWith('..')) return undefined;
    // A directory not made yet is as safe as the one it would be made in (`/tmp/bin`: anyone's).
    chain.push(nearestExisting(dir));
    const candidate = join(dir, program);
    if (executable(candidate)) return [...chain, candidate];
  }
  return undefined;
}

// Not host/path-keys' nearestExisting: that one resolves `..` by text, while the trust rule
// must walk the directory as the kernel would reach it (a `..` after a link leads elsewhere).
function nearestExisting(dir: string): string {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(at) || dirname(at) === at) return at;
  }
}

/** What a script's `#!` line starts: its absolute interpreter and, for `env <program>`, how env finds that program. */
export function interpreterChain(file: string, path: string, code: string): string[] {
  const sb = readShebang(file);
  if (!sb || sb.crlf || !isAbsolute(sb.interpreter)) return [];
  const program = sb.envProgram;
  if (!program) return [sb.interpreter];
  if (program.includes('/')) return isAbsolute(program) ? [sb.interpreter, program] : [sb.interpreter];
  return [sb.interpreter, ...(lookupChain(program, path, code) ?? [])];
}

/**
 * Why `file` cannot start as a program, read from its `#!` line, or undefined (no `#!`
 * line, or one that holds). `path` is the PATH the script will run with, for `env`;
 * `pathKey` names where the config can set it.
 */
export function scriptStartProblem(file: string, path: string, pathKey = "PATH in the target's env"): StartProblem | undefined {
  const sb = readShebang(file);
  if (!sb) return undefined;
  const q = shellQuote(file);
  if (sb.crlf) {
    return {
      detail: `${file} has Windows line endings: its #! line ends in a carriage return, which the kernel takes as part of the interpreter's name`,
      fix: `sed -i 's/\\r$//' ${q}`,
    };
  }
  const { interpreter, envProgram: program } = sb;
  if (!interpreter) return { detail: `${file}'s #! line names no interpreter`, fix: `write the interpreter's full path after #! in ${q}` };
  // A relative interpreter is looked up from the script's working directory (the new code): not judged here.
  if (!isAbsolute(interpreter)) return undefined;
  if (!executable(interpreter)) {
    return { detail: `${file}'s #! interpreter ${interpreter} is not installed (or not executable)`, fix: `install it, or fix the #! line of ${q}` };
  }
  if (!program || (program.includes('/') ? executable(program) : onPath(program, path) !== null)) return undefined;
  return {
    detail: `${file} runs ${program} through env (#!${sb.rest}), and ${program} is not on the PATH it runs with (${path || 'empty'})`,
    fix: program.includes('/') ? `install ${program}, or fix the #! line of ${q}` : `write ${program}'s full path in the #! line of ${q}, or set ${pathKey}`,
  };
}

/**
 * Why the program a step or health check names (`argv[0]`) cannot start on this host, or
 * undefined. Judged only where it is the host's: a bare name looked up on `path` (cron's
 * PATH often lacks the directory of npm or node), or an absolute path outside the
 * deployed code. A relative path, or one inside `code` (the target's path), is the commit's.
 */
export function programProblem(program: string, opts: { path: string; code: string; key: string; pathKey: string }): StartProblem | undefined {
  if (!program || program.includes('{{')) return undefined;
  if (!program.includes('/')) {
    const found = onPath(program, opts.path);
    if (found === undefined) return undefined;
    if (found === null) {
      return {
        detail: `${program} is not on the PATH it runs with (${opts.path || 'empty'})`,
        fix: `write ${program}'s full path in ${opts.key}, or set ${opts.pathKey}`,
      };
    }
    return scriptStartProblem(found, opts.path, opts.pathKey);
  }
  if (!isAbsolute(program) || !relative(opts.code, program).startsWith('..')) return undefined;
  if (!executable(program)) return { detail: `${program} is missing or not executable`, fix: `chmod +x ${shellQuote(program)}, or fix ${opts.key}` };
  return scriptStartProblem(program, opts.path, opts.pathKey);
}

export interface CommandProblem extends StartProblem {
  /** The config key that names the program, and what it is ("step \"build\"", "health command"). */
  at: KeyPath;
  what: string;
}

/**
 * The programs a target's steps and health check name that cannot start on this host,
 * each with its config key: asked by run before the code moves, and by validate and doctor.
 * Steps run with the target's env (and their own); the health check with pollpray's.
 */
export function commandProblems(target: Target): CommandProblem[] {
  const problems: CommandProblem[] = [];
  const pathKey = `targets.${target.name}.env.PATH`;
  (target.steps ?? []).forEach((step, i) => {
    const at = ['targets', target.name, 'steps', i, 'run'];
    const path = step.env.PATH ?? scriptPath(target);
    const problem = programProblem(step.run[0] ?? '', { path, code: target.path, key: keyPathText(at), pathKey });
    if (problem) problems.push({ ...problem, at, what: `step "${step.name}"` });
  });
  const health = target.health?.command;
  if (health) {
    const at = ['targets', target.name, 'health', 'command'];
    const problem = programProblem(health[0] ?? '', { path: process.env.PATH ?? '', code: target.path, key: keyPathText(at), pathKey: "PATH in pollpray's own environment (a PATH= line in its crontab or unit)" });
    if (problem) problems.push({ ...problem, at, what: 'health command' });
  }
  return problems;
}
