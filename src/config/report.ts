/**
 * Turns schema issues and rule findings into `file:line key.path: message` lines and
 * one ConfigError carrying all of them, so a user fixes every problem in one pass.
 */
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { closestKey } from './suggest.js';
import type { KeyPath, YamlSource } from './yaml-source.js';

/** One thing wrong with the file, before it has a line number. */
export interface Finding {
  path: KeyPath;
  message: string;
  /** Point at the key itself (unknown or badly named keys) rather than its value. */
  at?: 'key' | 'value';
}

export interface Problem {
  line: number;
  /** `targets.todo.restart[0]`, or '' for the file as a whole. */
  key: string;
  message: string;
}

export function keyPathText(path: KeyPath): string {
  return path.reduce<string>((text, seg) => (typeof seg === 'number' ? `${text}[${seg}]` : text ? `${text}.${seg}` : seg), '');
}

export function locateFindings(findings: Finding[], source: YamlSource): Problem[] {
  return findings.map((f) => ({ line: source.lineOf(f.path, f.at), key: keyPathText(f.path), message: f.message }));
}

export function problemLine(file: string, p: Problem): string {
  return p.key ? `${file}:${p.line} ${p.key}: ${p.message}` : `${file}:${p.line}: ${p.message}`;
}

/** The one error for a file with problems: a summary line, then one line per problem in file order. */
export function configProblemsError(file: string, problems: Problem[]): ConfigError {
  const sorted = [...problems].sort((a, b) => a.line - b.line);
  const count = `${sorted.length} problem${sorted.length === 1 ? '' : 's'}`;
  return new ConfigError([`${file} has ${count}:`, ...sorted.map((p) => problemLine(file, p))].join('\n'), {
    hint: 'fix the lines above, then run pollpray validate',
  });
}

/** Schema issues as findings, in the user's words (what was expected, what was there). */
export function issueFindings(issues: readonly z.core.$ZodIssue[], schema: z.ZodType, data: unknown): Finding[] {
  return issues.flatMap((issue): Finding[] => {
    const path = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = knownKeysAt(schema, path);
        return issue.keys.map((key) => {
          const guess = closestKey(key, known);
          return { path: [...path, key], at: 'key', message: `unknown key${guess ? ` (did you mean "${guess}"?)` : ''}` };
        });
      }
      case 'invalid_key': {
        const inner = issue.issues[0];
        const message =
          inner && !inner.message.startsWith('Invalid')
            ? inner.message
            : inner?.code === 'invalid_format' && inner.format === 'regex'
              ? `is not an allowed name (must match ${inner.pattern})`
              : 'is not an allowed name';
        return [{ path, at: 'key', message }];
      }
      case 'invalid_type': {
        const value = valueAt(data, path);
        if (value === undefined) {
          const message =
            keyPathText(path) === 'targets' ? 'is missing: add at least one target (pollpray init writes an example)' : 'is required';
          return [{ path, message }];
        }
        return [{ path, message: `must be ${expectedText(issue.expected)}, got ${describe(value)}` }];
      }
      case 'invalid_value':
        return [{ path, message: `must be one of ${issue.values.map(String).join(', ')}, got ${describe(valueAt(data, path))}` }];
      case 'too_small':
      case 'too_big':
        return [{ path, message: boundText(issue) }];
      case 'invalid_format':
        return [{ path, message: issue.message.startsWith('Invalid') && issue.format === 'regex' ? `must match ${issue.pattern}` : issue.message }];
      default:
        return [{ path, message: issue.message }];
    }
  });
}

function boundText(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === 'too_small';
  const limit = Number(small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum);
  const inclusive = issue.inclusive !== false;
  if (issue.origin === 'string') {
    if (small && limit === 1) return 'must not be empty';
    return `must be ${small ? 'at least' : 'at most'} ${limit} characters long`;
  }
  if (issue.origin === 'array' || issue.origin === 'set') {
    if (small && limit === 1) return 'must list at least one item';
    return `must list ${small ? 'at least' : 'at most'} ${limit} items`;
  }
  if (inclusive) return `must be ${small ? 'at least' : 'at most'} ${limit}`;
  return `must be ${small ? 'more' : 'less'} than ${limit}`;
}

const EXPECTED: Record<string, string> = {
  object: 'a mapping of keys',
  record: 'a mapping of names',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
};

function expectedText(expected: string): string {
  return EXPECTED[expected] ?? expected;
}

function describe(value: unknown): string {
  if (value === null) return 'nothing (an empty value)';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

function valueAt(data: unknown, path: KeyPath): unknown {
  let value = data;
  for (const seg of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[seg];
  }
  return value;
}

/** The subset of zod's internal definition we walk to find an object's known keys. */
interface WalkDef {
  type: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  valueType?: unknown;
  element?: unknown;
  in?: unknown;
}

function defOf(schema: unknown): WalkDef | undefined {
  return (schema as { _zod?: { def?: WalkDef } } | undefined)?._zod?.def;
}

/** The keys the schema allows on the object at `path` (for "did you mean"). */
export function knownKeysAt(schema: unknown, path: KeyPath): string[] {
  let node: unknown = schema;
  let remaining = [...path];
  for (let guard = 0; guard < 100; guard++) {
    const def = defOf(node);
    if (!def) return [];
    if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default') node = def.innerType;
    else if (def.type === 'pipe') node = def.in;
    else if (remaining.length === 0) return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
    else if (def.type === 'object') {
      node = def.shape?.[String(remaining[0])];
      remaining = remaining.slice(1);
    } else if (def.type === 'record') {
      node = def.valueType;
      remaining = remaining.slice(1);
    } else if (def.type === 'array') {
      node = def.element;
      remaining = remaining.slice(1);
    } else return [];
  }
  return [];
}
