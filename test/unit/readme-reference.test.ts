/**
 * The README's "Config reference" table must list every key of the schema, and only
 * keys that exist: a renamed or new key cannot ship undocumented.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { configJsonSchema } from '../../src/config/json-schema.js';

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
}

/** Dotted key paths; a record's keys show as `<name>`, a list's items as `[]`. */
function keyPaths(schema: JsonSchema, prefix = ''): string[] {
  const paths: string[] = [];
  const variants = [schema, ...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])];
  for (const s of variants) {
    for (const [key, sub] of Object.entries(s.properties ?? {})) {
      const path = prefix ? `${prefix}.${key}` : key;
      paths.push(path, ...keyPaths(sub, path));
    }
    if (typeof s.additionalProperties === 'object' && s.additionalProperties.properties) {
      const path = `${prefix}.<name>`;
      paths.push(path, ...keyPaths(s.additionalProperties, path));
    }
    if (s.items) paths.push(...keyPaths(s.items, `${prefix}[]`));
  }
  return [...new Set(paths)];
}

function documentedKeys(): string[] {
  const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
  const section = readme.split('## Config reference')[1]?.split('\n## ')[0] ?? '';
  return [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] as string);
}

it('the README config reference lists exactly the schema keys', () => {
  const schemaKeys = keyPaths(configJsonSchema() as JsonSchema).sort();
  const documented = [...new Set(documentedKeys())].sort();
  // Objects whose every child is documented need no row of their own.
  const needed = schemaKeys.filter((k) => !schemaKeys.some((c) => c.startsWith(`${k}.`)) || documented.includes(k));
  expect(needed.filter((k) => !documented.includes(k)), 'schema keys missing from the README').toEqual([]);
  expect(documented.filter((k) => !schemaKeys.includes(k)), 'README keys that are not in the schema').toEqual([]);
});

it('every section the README points to with see "…" or (see "…") exists as a heading', () => {
  const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
  const headings = new Set([...readme.matchAll(/^#{2,4} (.+)$/gm)].map((m) => (m[1] ?? '').replace(/`/g, '').trim()));
  const pointed = [...readme.matchAll(/\bsee "([^"]+)"/gi)].map((m) => m[1] ?? '');
  expect(pointed.length).toBeGreaterThan(5);
  expect(pointed.filter((name) => !headings.has(name))).toEqual([]);
});
