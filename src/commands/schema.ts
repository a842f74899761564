import { configJsonSchema } from '../config/json-schema.js';
import type { Command } from 'commander';
import type { CliContext } from './cli-context.js';
import { out } from '../log/console.js';

export { configJsonSchema };

/** `pollpray schema`: the config JSON Schema, for editors; the CLI prints it as 2-space JSON. */
export function schema(): object {
  return configJsonSchema();
}

export function defineCommands(program: Command, _cli: CliContext): void {
  program
    .command('schema')
    .description('print the config JSON Schema (for editor completion)')
    .action(async () => {
      out(JSON.stringify(configJsonSchema(), null, 2));
    });
}
