/**
 * Reading a config file: refuse an unsafe file, parse YAML with positions, check it
 * against the schema and the cross-field rules, report every problem at once with its
 * line, and only then normalise. Nothing runs on a config with a problem.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { normalise, type Config, type HostFacts } from './normalise.js';
import { configProblemsError, issueFindings, locateFindings, type Problem } from './report.js';
import { targetPaths } from './path-facts.js';
import { ruleFindings } from './rules.js';
import { symlinkFindings } from './symlink-rules.js';
import { configSchema } from './schema.js';
import { configSecrets } from './secrets.js';
import { addSecrets } from '../log/redact.js';
import { registerPathKeys } from '../host/path-keys.js';
import { parseYamlSource } from './yaml-source.js';

export { locateConfig, type LocateOptions } from './locate.js';

export function loadConfig(file: string, host?: HostFacts): Config {
  refuseUnsafeFile(file);
  const text = readConfigText(file);
  const source = parseYamlSource(text);

  if (source.syntax.length > 0) {
    throw configProblemsError(
      file,
      source.syntax.map((s) => ({ line: s.line, key: '', message: `YAML syntax error: ${s.message}` })),
    );
  }
  if (source.empty) {
    throw new ConfigError(`${file} is empty: it needs at least a targets: section`, {
      hint: 'run pollpray init <file> for a commented starter config',
    });
  }

  const parsed = configSchema.safeParse(source.data);
  if (!parsed.success) {
    const problems: Problem[] = locateFindings(issueFindings(parsed.error.issues, configSchema, source.data), source);
    throw configProblemsError(file, problems);
  }
  // Rules need schema-valid input; a file with schema problems gets its rule problems on the next pass.
  // The symlink rules look at the disk too: where each target's directories really lead.
  const broken = locateFindings([...ruleFindings(parsed.data), ...symlinkFindings(targetPaths(parsed.data))], source);
  if (broken.length > 0) throw configProblemsError(file, broken);

  const config = normalise(parsed.data, file, host);
  // Registered before anything runs, so not even the first log line can carry them.
  addSecrets(configSecrets(config, process.env));
  // From now on a filesystem error names the config key whose directory to fix.
  registerPathKeys(config);
  return config;
}

/**
 * The config names commands that run as pollpray (deploy scripts, health commands):
 * a file any local user can write is a way to run commands as pollpray.
 */
function refuseUnsafeFile(file: string): void {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    throw unreadable(file, err);
  }
  if ((mode & 0o002) !== 0) {
    throw new ConfigError(`${file} is world-writable: any local user could make pollpray run their commands`, {
      hint: `chmod o-w ${shellWord(file)}`,
    });
  }
}

function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw unreadable(file, err);
  }
}

function unreadable(file: string, err: unknown): ConfigError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this user' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? String(err)})`;
  return new ConfigError(`config file ${file} ${why}`, {
    hint: code === 'EACCES' ? `run pollpray as the user that owns ${file}, or give that user read access` : 'check the --config path or POLLPRAY_CONFIG',
    cause: err,
  });
}

/** A path as it would be typed in a shell, for hints the user copies. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
