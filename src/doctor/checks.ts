/**
 * The checks of `pollpray doctor` that look at this host: who runs pollpray, git, the
 * state and log dirs, keys, deploy scripts, disk space, and whether anything runs
 * pollpray unattended. Each returns lines with a fix a user can copy.
 */
import { accessSync, constants, existsSync, readdirSync, statfsSync, statSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import type { Target } from '../config/normalise.js';
import { checkKeyUsable, deployKeyFiles, noDeployKey } from '../git/key-check.js';
import { lfsSshHost, resolveSsh } from '../git/ssh-resolve.js';
import { sshDestination } from '../git/ssh-url.js';
import { shellQuote } from '../git/ssh.js';
import { findBinary } from '../exec/find-binary.js';
import { run } from '../exec/run.js';
import { formatSize } from '../size.js';
import { commandLine, ownershipHint, ownershipProblems } from '../host/ownership.js';
import { nearestExisting } from '../host/path-keys.js';
import { userName } from '../host/users.js';
import { readCrontab } from '../schedule/user-crontab.js';
import { anyPollprayLine } from '../schedule/crontab.js';
import { trustProblem, untrustedNamedFiles } from '../config/file-trust.js';
import { keyPathText } from '../config/report.js';
import { cronDaemonPid } from '../schedule/cron-daemon.js';
import { pathOwnerProblem } from '../deploy/path-owner.js';
import type { Check, CheckResult } from './check.js';
import { commandProblems, scriptPath, scriptStartProblem } from '../host/script-start.js';

const q = shellQuote;

export const runningUser: Check = async ({ uid, user }) => [
  uid === 0
    ? {
        name: 'user',
        status: 'warn',
        detail: 'running as root: a bad commit or deploy script would own the whole host',
        fix: 'run pollpray as a dedicated user (useradd --system --create-home --home-dir /var/lib/pollpray pollpray; see the README)',
      }
    : { name: 'user', status: 'ok', detail: `running as ${user} (uid ${uid})` },
];

/** Oldest git known to do what pollpray asks of it (`-c protocol.*.allow`, fetch by sha, check-ref-format). */
const MIN_GIT = [2, 20];

export const gitVersion: Check = async () => {
  const r = await run(['git', '--version'], { cwd: '/', timeoutMs: 10_000 });
  if (r.spawnError || r.exitCode !== 0) {
    return [{ name: 'git', status: 'fail', detail: 'git is not installed (or not on PATH)', fix: 'apt-get install git' }];
  }
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(r.stdout);
  const version = m ? `${m[1]}.${m[2]}${m[3] ? `.${m[3]}` : ''}` : r.stdout.trim();
  const [major = 0, minor = 0] = m ? [Number(m[1]), Number(m[2])] : [];
  const old = major < (MIN_GIT[0] ?? 0) || (major === MIN_GIT[0] && minor < (MIN_GIT[1] ?? 0));
  return [
    old
      ? { name: 'git', status: 'warn', detail: `git ${version} is older than ${MIN_GIT.join('.')}`, fix: 'upgrade git from your distribution' }
      : { name: 'git', status: 'ok', detail: `git ${version}` },
  ];
};

/** Oldest git whose `sparse-checkout set --no-cone` (targets with `paths`) exists. */
const MIN_GIT_SPARSE = [2, 35];

/**
 * What the repository keys need on this host: git-lfs for `lfs: true`, a git with
 * `sparse-checkout --no-cone` for `paths`. No line when no target uses them.
 */
export const repositoryTools: Check = async ({ config }) => {
  const results: CheckResult[] = [];
  const lfs = config.targets.filter((t) => t.lfs).map((t) => t.name);
  if (lfs.length) {
    const r = await run(['git', 'lfs', 'version'], { cwd: '/', timeoutMs: 10_000 });
    results.push(
      r.exitCode === 0 && !r.spawnError
        ? { name: 'git-lfs', status: 'ok', detail: `${r.stdout.trim().split(' ')[0] ?? 'git-lfs'} (for ${lfs.join(', ')})` }
        : { name: 'git-lfs', status: 'fail', detail: `lfs: true on ${lfs.join(', ')}, but git-lfs is not installed`, fix: 'apt-get install git-lfs' },
    );
  }
  const sparse = config.targets.filter((t) => t.paths.length > 0 && t.strategy === 'in-place').map((t) => t.name);
  if (sparse.length) {
    const r = await run(['git', '--version'], { cwd: '/', timeoutMs: 10_000 });
    const m = /(\d+)\.(\d+)/.exec(r.stdout);
    const [major = 0, minor = 0] = m ? [Number(m[1]), Number(m[2])] : [];
    const old = major < (MIN_GIT_SPARSE[0] ?? 0) || (major === MIN_GIT_SPARSE[0] && minor < (MIN_GIT_SPARSE[1] ?? 0));
    if (old) results.push({ name: 'paths', status: 'fail', detail: `paths on ${sparse.join(', ')} needs git ${MIN_GIT_SPARSE.join('.')} or newer (sparse-checkout --no-cone)`, fix: 'upgrade git, or use strategy: releases (which exports only those paths with git archive)' });
  }
  return results;
};


function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function dirCheck(name: string, dir: string, user: string): CheckResult {
  const give = `install -d -o ${user} -m 0750 ${q(dir)} (as root), or set ${name === 'state dir' ? 'state_dir' : 'log.dir'}`;
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) return { name, status: 'fail', detail: `${dir} is not a directory`, fix: give };
    return writable(dir)
      ? { name, status: 'ok', detail: `${dir} is writable by ${user}` }
      : { name, status: 'fail', detail: `${dir} is not writable by ${user}`, fix: `chown -R ${user} ${q(dir)} (as root)` };
  }
  const parent = nearestExisting(dir);
  return writable(parent)
    ? { name, status: 'ok', detail: `${dir} does not exist yet; ${user} can create it` }
    : { name, status: 'fail', detail: `${dir} does not exist and ${user} cannot create it in ${parent}`, fix: give };
}

export const directories: Check = async ({ config, user }) => [
  dirCheck('state dir', config.stateDir, user),
  dirCheck('log dir', config.log.dir, user),
];

/**
 * Each target's `path`: pollpray writes there (clone, reset, releases), so it must be
 * writable, or creatable where it does not exist yet, and not recorded as deployed by
 * another config's state dir (src/deploy/path-owner.ts). A parent pollpray cannot write
 * passed every check before, and the first deploy then failed to clone.
 */
export const targetPaths: Check = async ({ config, user }) =>
  config.targets.map((t): CheckResult => {
    const name = `path (${t.name})`;
    const key = `targets.${t.name}.path`;
    const give = `install -d -o ${user} -m 0755 ${q(t.path)} (as root), or set ${key}`;
    if (existsSync(t.path)) {
      if (!statSync(t.path).isDirectory()) return { name, status: 'fail', detail: `${t.path} is not a directory`, fix: `move it away, or set ${key}` };
      // The rule run refuses the target on (row 69): another config's state dir deploys here.
      const owned = pathOwnerProblem(config, t);
      if (owned) return { name, status: 'fail', detail: `${owned.message}: pollpray run refuses this target`, fix: owned.hint };
      return writable(t.path)
        ? { name, status: 'ok', detail: `${t.path} is writable by ${user}` }
        : { name, status: 'fail', detail: `${t.path} is not writable by ${user}`, fix: `chown -R ${user} ${q(t.path)} (as root), or set ${key}` };
    }
    const parent = nearestExisting(t.path);
    return writable(parent)
      ? { name, status: 'ok', detail: `${t.path} does not exist yet; ${user} can create it (the first deploy clones there)` }
      : { name, status: 'fail', detail: `${t.path} does not exist and ${user} cannot create it in ${parent}: the first deploy would fail`, fix: give };
  });

/**
 * Who owns what pollpray writes: a `sudo pollpray run` (or a run as any other user)
 * leaves files the right user cannot change; run then stops with exit 3. One line per
 * path that belongs to someone else, or one ok line.
 */
export const ownership: Check = async ({ config, user, uid }) => {
  const problems = ownershipProblems(config, config.targets, uid);
  if (problems.length === 0) {
    return [{ name: 'ownership', status: 'ok', detail: `every checkout, release, state and log dir that exists belongs to ${user}` }];
  }
  return problems.map((p) => ({
    name: p.target ? `ownership (${p.target})` : 'ownership',
    status: 'fail' as const,
    detail: `${p.what} ${p.path} (${p.key}) belongs to ${userName(p.owner)}, not ${user}: pollpray run stops there (exit 3)`,
    fix: ownershipHint(p, uid, commandLine(['run'])),
  }));
};

/**
 * Each deploy key as ssh would load it: mode and owner, then whether it needs a
 * passphrase. ssh.key, else the IdentityFile lines the target's ssh.config gives its
 * destination (ssh -G, as a run's ssh reads it); an ssh.config another user could change
 * is not read (namedFileTrust fails it), one ssh cannot read is the ssh check's line.
 */
export const keyPermissions: Check = async ({ config, uid, user }) => {
  const cwd = existsSync(config.stateDir) ? config.stateDir : tmpdir();
  const results: CheckResult[] = [];
  for (const t of config.targets) {
    const name = `key (${t.name})`;
    const check = async (key: string, as = name) => results.push({ name: as, ...(await checkKeyUsable(key, cwd, { runner: { uid, user }, label: `pollpray ${t.name}` })) });
    if (t.ssh.key) {
      await check(t.ssh.key);
      continue;
    }
    if (t.ssh.config && trustProblem(t.ssh.config, { uid, user }, 'make ssh run their commands')) continue;
    const dest = sshDestination(t.repo);
    const resolved = dest ? await resolveSsh(t, cwd) : undefined;
    if (resolved && 'error' in resolved) continue;
    const keys = resolved ? deployKeyFiles(t, resolved) : [];
    if (dest && keys.length === 0) results.push({ name, ...noDeployKey(t, dest.host) });
    for (const key of keys) await check(key);
    // An ssh LFS server on another host may get another IdentityFile from the same ssh config.
    const lfs = await lfsSshHost(t, cwd, resolved);
    if (!lfs || 'error' in lfs.resolved) continue;
    const lfsKeys = deployKeyFiles(t, lfs.resolved);
    if (lfsKeys.length === 0) results.push({ name: `key (${t.name} lfs)`, ...noDeployKey(t, sshDestination(lfs.url)?.host ?? lfs.url) });
    for (const key of lfsKeys.filter((k) => !keys.includes(k))) await check(key, `key (${t.name} lfs)`);
  }
  return results;
};

export const deployScripts: Check = async ({ config, uid, user }) =>
  config.targets.flatMap((t): CheckResult[] => [
    ...deployScript(t, config.file, uid, user),
    // Steps and the health check: what run refuses before the code moves.
    ...commandProblems(t).map((c): CheckResult => ({ name: `${c.what} (${t.name})`, status: 'fail', detail: c.detail, fix: c.fix })),
  ]);

function deployScript(t: Target, file: string, uid: number, user: string): CheckResult[] {
  if (!t.deploy) return [];
  const name = `deploy script (${t.name})`;
  let st: Stats;
  try {
    st = statSync(t.deploy);
  } catch {
    return [{ name, status: 'fail', detail: `${t.deploy} does not exist`, fix: `create it, or fix targets.${t.name}.deploy in ${file}` }];
  }
  if (!st.isFile()) return [{ name, status: 'fail', detail: `${t.deploy} is not a file`, fix: `fix targets.${t.name}.deploy in ${file}` }];
  // The same rule run refuses on (src/config/file-trust.ts).
  const untrusted = trustProblem(t.deploy, { uid, user }, `run commands as ${user}`);
  if (untrusted) return [{ name, status: 'fail', detail: untrusted.message, fix: untrusted.fix }];
  try {
    accessSync(t.deploy, constants.X_OK);
  } catch {
    return [{ name, status: 'fail', detail: `${t.deploy} is not executable by ${user}`, fix: `chmod +x ${q(t.deploy)}` }];
  }
  const start = scriptStartProblem(t.deploy, scriptPath(t), `targets.${t.name}.env.PATH`);
  if (start) return [{ name, status: 'fail', ...start }];
  return [{ name, status: 'ok', detail: `${t.deploy} is executable` }];
}

const MiB = 1024 * 1024;
const FAIL_BELOW = 100 * MiB;
const WARN_BELOW = 1024 * MiB;

/** What one filesystem holds: paths, and the releases targets whose min_free_space it must meet. */
interface Filesystem {
  probe: string;
  paths: string[];
  releases: Target[];
}

/**
 * fail below what the next deploy needs: the largest min_free_space of the releases
 * targets there (a deploy refuses below it), or 100 MiB; warn below twice that, at
 * least 1 GiB.
 */
export function diskVerdict(free: number, fs: Pick<Filesystem, 'paths' | 'releases'>): CheckResult {
  const needy = fs.releases.reduce<Target | undefined>((a, t) => (!a || t.minFreeSpaceBytes > a.minFreeSpaceBytes ? t : a), undefined);
  const need = Math.max(FAIL_BELOW, needy?.minFreeSpaceBytes ?? 0);
  const detail = `${formatSize(free)} free for ${fs.paths.join(', ')}`;
  if (needy && free < needy.minFreeSpaceBytes) {
    return {
      name: 'disk',
      status: 'fail',
      detail: `${detail}: below targets.${needy.name}.min_free_space (${formatSize(needy.minFreeSpaceBytes)}), so its next deploy is refused`,
      fix: `free space there (old releases, logs, caches) or lower targets.${needy.name}.min_free_space`,
    };
  }
  if (free < need) return { name: 'disk', status: 'fail', detail, fix: 'free space there (old releases, logs, caches) before the next deploy' };
  if (free < Math.max(WARN_BELOW, 2 * need)) return { name: 'disk', status: 'warn', detail, fix: 'free space there before a deploy runs out of it' };
  return { name: 'disk', status: 'ok', detail };
}

/**
 * One line per filesystem holding a checkout, the state dir or the log dir. A path that
 * does not exist and cannot be created is no "ok disk": it gets a failing line of its own.
 */
export const diskSpace: Check = async ({ config, user }) => {
  const byDevice = new Map<number, Filesystem>();
  const uncreatable: CheckResult[] = [];
  const add = (path: string, key: string, target?: Target): void => {
    const probe = nearestExisting(path);
    if (probe !== resolve(path) && !writable(probe)) {
      uncreatable.push({
        name: 'disk',
        status: 'fail',
        detail: `${path} does not exist and ${user} cannot create it in ${probe}: nothing can be written there`,
        fix: `install -d -o ${user} ${q(path)} (as root), or set ${key}`,
      });
      return;
    }
    const dev = statSync(probe).dev;
    const entry = byDevice.get(dev) ?? { paths: [], probe, releases: [] };
    entry.paths.push(path);
    if (target?.strategy === 'releases') entry.releases.push(target);
    byDevice.set(dev, entry);
  };
  for (const t of config.targets) add(t.path, `targets.${t.name}.path`, t);
  add(config.stateDir, 'state_dir');
  add(config.log.dir, 'log.dir');
  return [
    ...[...byDevice.values()].map((fs) => {
      const stats = statfsSync(fs.probe);
      return diskVerdict(stats.bavail * stats.bsize, fs);
    }),
    ...uncreatable,
  ];
};

const UNIT_DIRS = ['/etc/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system'];

/** Something has to run pollpray unattended: a crontab line, or a systemd timer or daemon unit. */
export const scheduled: Check = async () => {
  const fix = 'pollpray cron install (or install the systemd units from examples/systemd/)';
  if (findBinary('crontab')) {
    try {
      const line = anyPollprayLine(await readCrontab());
      if (line) {
        const shown = line.replace(/\s+# pollpray-managed:.*$/, '');
        const daemon = cronDaemonPid();
        return [
          // As serious as no schedule at all (a warning below): nothing runs pollpray unattended.
          daemon === undefined
            ? {
                name: 'schedule',
                status: 'warn',
                detail: `crontab: ${shown}, but no cron daemon runs on this host, so the line never runs`,
                fix: 'start cron (service cron start, and enable it at boot), or run pollpray daemon under your service manager instead',
              }
            : { name: 'schedule', status: 'ok', detail: `crontab: ${shown} (cron runs, PID ${daemon})` },
        ];
      }
    } catch {
      // an unusable crontab is reported below as "nothing found"
    }
  }
  for (const dir of UNIT_DIRS) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    const unit = names.find((n) => /^pollpray.*\.(timer|service)$/.test(n));
    if (unit) return [{ name: 'schedule', status: 'ok', detail: `systemd unit ${dir}/${unit}` }];
  }
  return [{ name: 'schedule', status: 'warn', detail: 'no crontab line or systemd unit runs pollpray unattended', fix }];
};

/**
 * The other scripts, hooks and files the config names (steps, health and notify
 * commands, known_hosts, signers, secret files, and the state and log dirs; the deploy
 * script and key have checks of their own): the rule `run` refuses on, one FAIL line per file.
 */
export const namedFileTrust: Check = async ({ config, uid, user }) => {
  const problems = untrustedNamedFiles(config, { uid, user }).filter((p) => !(p.key.at(-1) === 'deploy' || keyPathText(p.key).endsWith('ssh.key')));
  if (problems.length === 0) return [];
  return problems.map((p) => ({ name: `${p.use === 'writes' ? 'dir' : 'file'} (${keyPathText(p.key)})`, status: 'fail', detail: p.message, fix: p.fix }));
};
