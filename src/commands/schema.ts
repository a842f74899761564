import { configJsonSchema } from '../config/json-schema.js';

export { configJsonSchema };

/** `pollpray schema`: the config JSON Schema, for editors; the CLI prints it as 2-space JSON. */
export function schema(): object {
  return configJsonSchema();
}
