/**
 * A head start for `run`: the ssh handshakes begin while Node is still loading the
 * rest of pollpray and parsing and validating the config, instead of after.
 *
 * Only from a record the same user's last `run` wrote after validating a config of
 * exactly this path and content (config/connect-cache.ts), and only after the same
 * trust checks a run makes first: the config file, the record, and every file the
 * config names must be changeable by root or this user alone, so a config or key
 * another local user could change never causes a connection. The masters started here
 * are adopted by the run only when its validated config produces exactly the same argv
 * (multiplex.ts); any other is closed (`ssh -O exit`) when the run or the command ends.
 * Anything unusual (no record, a changed config, an untrusted file) means no head
 * start, never an error: the run then does exactly what it did before.
 */
import { readFileSync } from 'node:fs';
import { commandName, configFlag } from '../command-name.js';
import { armConnectCache, cacheFile, configKey, readConnectRecord } from '../config/connect-cache.js';
import { configFileProblem, runningUser, trustProblem } from '../config/file-trust.js';
import { locateConfig } from '../config/locate.js';
import { homeDir } from '../host/users.js';
import { openEarlyMasters } from './multiplex.js';

/** True when it started something that closeEarlyMasters (multiplex.ts) may have to close. */
export function connectEarly(argv: readonly string[]): boolean {
  if (commandName(argv) !== 'run') return false;
  const home = homeDir();
  // No home (a container's passwd-less uid): no cache to read or write, no head start.
  if (!home) return false;
  armConnectCache(home);
  try {
    const file = locateConfig({ flag: configFlag(argv), env: process.env, cwd: process.cwd(), home });
    const me = runningUser();
    if (configFileProblem(file, me)) return false;
    const record = cacheFile(home, file);
    if (trustProblem(record, me, 'start ssh connections') !== undefined) return false;
    const found = readConnectRecord(record, configKey(file, readFileSync(file, 'utf8'), me.uid));
    if (!found || found.plans.length === 0) return false;
    if (found.files.some((f) => trustProblem(f, me, 'start ssh connections') !== undefined)) return false;
    // The state dir holds the sockets: as run checks it (file-trust.ts' namedFiles, `writes`).
    if (found.dirs.some((d) => trustProblem(d, me, 'start ssh connections', { rootGroupOnTheWay: true }) !== undefined)) return false;
    openEarlyMasters(found.plans);
    return true;
  } catch {
    return false;
  }
}
