/**
 * The config schema as JSON Schema, for editor completion (yaml-language-server).
 * Generated from the zod schema so the two can never disagree; the committed copy in
 * schema/ is checked against this by a unit test.
 */
import { z } from 'zod';
import { configSchema } from './schema.js';

export function configJsonSchema(): object {
  // io 'input': describe what a user may write (optional keys stay optional), not the parsed output.
  const generated = z.toJSONSchema(configSchema, { io: 'input' });
  return {
    $schema: generated.$schema,
    title: 'pollpray config',
    description: 'pollpray.yaml: one file, many targets. See `pollpray init` for a commented example.',
    ...generated,
  };
}
