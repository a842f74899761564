import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/commands/schema.js';

const committed = new URL('../../schema/pollpray.schema.json', import.meta.url);

describe('the committed JSON Schema', () => {
  it('is exactly what the zod schema produces now (regenerate with npm run schema)', () => {
    expect(readFileSync(committed, 'utf8')).toBe(`${JSON.stringify(schema(), null, 2)}\n`);
  });

  it('describes the input a user writes: strict objects, only targets required, durations as patterns', () => {
    const s = schema() as {
      required: string[];
      additionalProperties: boolean;
      properties: { targets: { propertyNames: { pattern: string }; additionalProperties: { required: string[]; properties: Record<string, { pattern?: string }> } } };
    };
    expect(s.required).toEqual(['targets']);
    expect(s.additionalProperties).toBe(false);
    expect(s.properties.targets.propertyNames.pattern).toBe('^[a-z0-9][a-z0-9._-]*$');
    expect(s.properties.targets.additionalProperties.required).toEqual(['repo', 'path']);
    expect(s.properties.targets.additionalProperties.properties.deploy_timeout?.pattern).toBe('^(\\d+)(ms|s|m|h|d)$');
  });
});
