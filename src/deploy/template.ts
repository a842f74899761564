/**
 * `{{placeholder}}` templating for pipeline steps. A value is substituted inside the
 * one argv element (or env value, or message) that names it and is never re-split or
 * given to a shell by pollpray.
 *
 * But an argument can still be code: `[env, sh, -c, 'echo {{subject}}']`,
 * `[python3, -c, …]`, `[timeout, 5s, bash, -c, …]`, a script that evals its $1. No
 * list of interpreters is complete, so the line is drawn by where a value comes from:
 * text chosen by whoever can push (branch, tag, commit subject, and step output, which
 * the pushed code writes) never goes into a command or an `env:` value at all (a
 * variable the config names may be BASH_ENV, NODE_OPTIONS or PERL5OPT, read as code);
 * a config rule refuses it there (commitTextIn) and scripts read it from the fixed
 * POLLPRAY_* variables, where it stays data. It may go into messages, which are only
 * logged and posted. Placeholders whose values pollpray checks to a plain alphabet
 * itself (full SHAs, the target and step names) may go anywhere; renderPlain checks
 * them again.
 */
import { DeployScriptError } from '../errors.js';

export const PLACEHOLDERS = [
  'target',
  'sha',
  'short_sha',
  'branch',
  'tag',
  'previous_sha',
  'subject',
  'step.name',
  'step.output',
] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export type TemplateValues = Partial<Record<Placeholder, string>>;

/** Commit-controlled placeholders and the variable a script reads instead. */
export const COMMIT_TEXT: Partial<Record<Placeholder, string>> = {
  branch: 'POLLPRAY_BRANCH',
  tag: 'POLLPRAY_TAG',
  subject: 'POLLPRAY_SUBJECT',
  'step.output': 'POLLPRAY_STEP_OUTPUT',
};

/**
 * What the other placeholders may hold: hex SHAs, target names ([a-z0-9._-]) and step
 * names ([A-Za-z0-9 ._-]) all fit, and none of it means anything to a shell.
 */
const PLAIN = /^[A-Za-z0-9 ._-]*$/;

const PATTERN = /\{\{\s*([A-Za-z_.]+)\s*\}\}/g;

function placeholdersIn(text: string): string[] {
  return [...text.matchAll(PATTERN)].map((m) => m[1] ?? '');
}

export function renderTemplate(text: string, values: TemplateValues): string {
  return text.replace(PATTERN, (_m, key: string) => values[key as Placeholder] ?? '');
}

/**
 * A command argument or environment value with its placeholders filled in. Config
 * validation already refused commit text there; this refuses it again, and any value
 * outside the plain alphabet (a previous_sha read back from a tampered state file),
 * rather than run it. `where` names the command or variable for the error.
 */
export function renderPlain(text: string, values: TemplateValues, target: string, where: string): string {
  return text.replace(PATTERN, (_m, key: string) => {
    const value = values[key as Placeholder] ?? '';
    if (COMMIT_TEXT[key as Placeholder] !== undefined || !PLAIN.test(value)) {
      throw new DeployScriptError(`refused to put {{${key}}} into ${where}: its value is not plain text`, {
        target,
        hint: `use $${COMMIT_TEXT[key as Placeholder] ?? 'POLLPRAY_*'} in the script instead, and run pollpray validate`,
      });
    }
    return value;
  });
}

export function renderArgv(argv: readonly string[], values: TemplateValues, target: string): string[] {
  // argv[0] exists whenever the callback runs.
  return argv.map((arg) => renderPlain(arg, values, target, `the command ${argv[0]}`));
}

/** Placeholders in `text` that pollpray does not know (a typo would silently become ''). */
export function unknownPlaceholders(text: string): string[] {
  return placeholdersIn(text).filter((k) => !(PLACEHOLDERS as readonly string[]).includes(k));
}

/** Commit-controlled placeholders in one argv element or env value, with the variable to use instead. */
export function commitTextIn(arg: string): { placeholder: string; variable: string }[] {
  return placeholdersIn(arg).flatMap((placeholder) => {
    const variable = COMMIT_TEXT[placeholder as Placeholder];
    return variable ? [{ placeholder, variable }] : [];
  });
}
