/**
 * Reading a config file: refuse an unsafe file, parse YAML with positions, check it
 * against the schema and the cross-field rules, report every problem at once with its
 * line, and only then normalise. Nothing runs on a config with a problem.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigError, OwnershipError } from '../errors.js';
import { ownershipHint } from '../host/ownership.js';
import { userName } from '../host/users.js';
import { configFileProblem, refuseUntrustedFiles, runningUser, type Runner } from './file-trust.js';
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
import { noteLoadedConfig } from './connect-cache.js';

export { locateConfig, type LocateOptions } from './locate.js';

export interface LoadOptions {
  /**
   * `refuse` (default): a script, hook or key the config names that another local user
   * could change is a config error, so nothing runs. `report`: left to the caller
   * (doctor and test-ssh report it with the same rule, among their other checks). `dirs`:
   * only the state and log dirs are refused (pause and resume write there, but run
   * nothing the config names, so a script that needs fixing does not stop them).
   */
  namedFiles?: 'refuse' | 'report' | 'dirs';
  /** Who runs pollpray (tests); the process's user by default. */
  runner?: Runner;
  /**
   * Trust the config file's owner for the config file itself: `sudo pollpray sudoers`
   * reads, as root, a config the pollpray user owns, to write that user's own rule
   * (the rule's systemctl is checked against root alone, in commands/sudoers.ts).
   */
  trustConfigOwner?: boolean;
}

export function loadConfig(file: string, host?: HostFacts, options: LoadOptions = {}): Config {
  const me = options.runner ?? runningUser();
  refuseUnsafeFile(file, me, options.trustConfigOwner ?? false);
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
  if (options.namedFiles !== 'report') refuseUntrustedFiles(config, me, (key) => source.lineOf(key), options.namedFiles === 'dirs' ? 'dirs' : undefined);
  // From now on a filesystem error names the config key whose directory to fix.
  registerPathKeys(config);
  noteLoadedConfig(file, text, me.uid);
  return config;
}

/**
 * The config names commands that run as pollpray (deploy scripts, health commands):
 * a file another local user can change is a way to run commands as pollpray.
 */
function refuseUnsafeFile(file: string, me: Runner, trustOwner: boolean): void {
  let owner: number;
  try {
    owner = statSync(file).uid;
  } catch (err) {
    throw unreadable(file, err);
  }
  const problem = configFileProblem(file, trustOwner ? { ...me, alsoTrusted: [owner] } : me);
  // Another user's config is the wrong-user case (`sudo pollpray run` against pollpray's
  // config): the fix is to run as its owner, as for the files a run would write.
  if (problem?.owner !== undefined) {
    const whose = problem.at === 'file' ? 'is owned by' : 'lies in a directory owned by';
    throw new OwnershipError(`config ${file} ${whose} ${userName(problem.owner)}, not ${me.user}: stopped before reading it`, {
      hint: ownershipHint({ what: 'config', path: file, key: 'config', owner: problem.owner }, me.uid),
    });
  }
  if (problem) throw new ConfigError(problem.message, { hint: problem.fix });
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
