/**
 * What `validate` checks on this host beyond the file itself, as the user running it:
 * the config can be flawless and still name a deploy script that cannot run or a
 * `path` whose parent nobody running pollpray may write (the first deploy then fails to
 * clone). Only `validate` asks: `run` meets the same problems as host faults, one line
 * each, without refusing the other targets.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import type { Config } from './normalise.js';
import type { Finding } from './report.js';
import { nearestExisting } from '../host/path-keys.js';
import { currentUser } from '../host/users.js';
import { shellQuote } from '../git/ssh.js';
import { commandProblems, scriptPath, scriptStartProblem } from '../host/script-start.js';

function can(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

export function hostFindings(config: Config, user = currentUser()): Finding[] {
  const findings: Finding[] = [];
  for (const t of config.targets) {
    if (t.deploy) {
      const at = ['targets', t.name, 'deploy'];
      if (!existsSync(t.deploy)) findings.push({ path: at, message: `${t.deploy} does not exist (fix: create it, or point deploy at the script)` });
      else if (!statSync(t.deploy).isFile()) findings.push({ path: at, message: `${t.deploy} is not a file` });
      else if (!can(t.deploy, constants.X_OK)) findings.push({ path: at, message: `${t.deploy} is not executable by ${user} (fix: chmod +x ${shellQuote(t.deploy)})` });
      else {
        const start = scriptStartProblem(t.deploy, scriptPath(t), `targets.${t.name}.env.PATH`);
        if (start) findings.push({ path: at, message: `${start.detail} (fix: ${start.fix})` });
      }
    }
    for (const c of commandProblems(t)) findings.push({ path: c.at, message: `${c.detail} (fix: ${c.fix})` });
    const at = ['targets', t.name, 'path'];
    if (existsSync(t.path)) {
      if (!can(t.path, constants.W_OK | constants.X_OK)) findings.push({ path: at, message: `${t.path} is not writable by ${user} (fix: chown -R ${user} ${shellQuote(t.path)} as root)` });
    } else {
      const parent = nearestExisting(t.path);
      if (!can(parent, constants.W_OK | constants.X_OK)) {
        findings.push({ path: at, message: `${t.path} does not exist and ${user} cannot create it in ${parent} (fix: install -d -o ${user} ${shellQuote(t.path)} as root)` });
      }
    }
  }
  return findings;
}
