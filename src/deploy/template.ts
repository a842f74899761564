/**
 * `{{placeholder}}` templating for pipeline steps. A value is substituted inside the
 * one argv element (or env value, or message) that names it and is never re-split or
 * given to a shell, so a branch called `$(touch x)` or a commit subject with
 * backticks stays text. The one way to turn a value into code would be to write the
 * placeholder inside a `sh -c` script; a config rule refuses that (shellScriptProblem).
 */
import { basename } from 'node:path';

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

const PATTERN = /\{\{\s*([A-Za-z_.]+)\s*\}\}/g;

export function renderTemplate(text: string, values: TemplateValues): string {
  return text.replace(PATTERN, (_m, key: string) => values[key as Placeholder] ?? '');
}

/** Placeholders in `text` that pollpray does not know (a typo would silently become ''). */
export function unknownPlaceholders(text: string): string[] {
  return [...text.matchAll(PATTERN)].map((m) => m[1] ?? '').filter((k) => !(PLACEHOLDERS as readonly string[]).includes(k));
}

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'busybox']);

/**
 * `[sh, -c, 'echo {{subject}}']` would splice the value into shell code. Returns the
 * index of such an element, or undefined; values belong in arguments ("$1") or the
 * POLLPRAY_* environment instead.
 */
export function shellScriptProblem(argv: readonly string[]): number | undefined {
  if (!SHELLS.has(basename(argv[0] ?? ''))) return undefined;
  for (let i = 1; i < argv.length - 1; i++) {
    // -c, and combined flags such as -ec or -xc: the next argument is the script.
    if (/^-[a-z]*c[a-z]*$/.test(argv[i] ?? '') && PATTERN.test(argv[i + 1] ?? '')) {
      PATTERN.lastIndex = 0;
      return i + 1;
    }
    PATTERN.lastIndex = 0;
  }
  return undefined;
}
