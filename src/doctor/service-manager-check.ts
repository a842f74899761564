/**
 * Whether the service manager that restarts each target's entries answers, and whether
 * it knows each unit or program: a host without systemd used to pass every check and
 * then fail the first restart with "Failed to connect to bus".
 *
 * systemd: `systemctl is-system-running` (no privilege needed) and each unit's LoadState.
 * service: the init script `/etc/init.d/<name>` exists.
 * supervisorctl: `supervisorctl status <program>`, through `sudo -n` unless root, since
 * supervisord's socket is root's (pollpray sudoers allows exactly that status command).
 */
import { existsSync, statSync } from 'node:fs';
import type { ServiceManager, Target } from '../config/normalise.js';
import { trustProblem } from '../config/file-trust.js';
import { managerArgv } from '../exec/sudo.js';
import { run } from '../exec/run.js';
import { executable } from '../host/script-start.js';
import type { Check, CheckResult } from './check.js';

const ENV = { LC_ALL: 'C', LANG: 'C', LANGUAGE: undefined };
const OPTS = { cwd: '/', timeoutMs: 10_000, env: ENV };
const OTHER_MANAGERS = 'set service_manager: service (SysV/OpenRC) or supervisorctl (README "Hosts without systemd")';
const NO_SYSTEMD = /System has not been booted with systemd|Failed to connect to bus|Host is down/i;

interface Group {
  manager: ServiceManager;
  /** [target, entry] for every restart entry this manager handles. */
  entries: [Target, string][];
}

function groups(targets: readonly Target[]): Group[] {
  const byKey = new Map<string, Group>();
  for (const t of targets) {
    if (t.restart.length === 0) continue;
    const m = t.serviceManager;
    const key = [m.kind, m.binary, m.config ?? ''].join('\0');
    const g = byKey.get(key) ?? { manager: m, entries: [] };
    for (const name of t.restart) g.entries.push([t, name]);
    byKey.set(key, g);
  }
  return [...byKey.values()];
}

const lastLine = (text: string) => text.trim().split('\n').filter(Boolean).pop() ?? '';

async function systemd(g: Group): Promise<CheckResult[]> {
  const bin = g.manager.binary;
  const r = await run([bin, 'is-system-running'], OPTS);
  const state = r.stdout.trim();
  if (r.spawnError) {
    return [{ name: 'service manager', status: 'fail', detail: `${bin} cannot run (${r.spawnError})`, fix: `set systemctl: to systemctl's absolute path, or ${OTHER_MANAGERS}` }];
  }
  if (state === 'offline' || NO_SYSTEMD.test(r.stderr)) {
    return [
      {
        name: 'service manager',
        status: 'fail',
        detail: `systemd is not running on this host (${bin} is-system-running: ${state || lastLine(r.stderr)}), so no restart can work`,
        fix: OTHER_MANAGERS,
      },
    ];
  }
  const results: CheckResult[] = [{ name: 'service manager', status: 'ok', detail: `systemd answers (${state || `exit ${r.exitCode}`})` }];
  for (const [t, unit] of g.entries) {
    const show = await run([bin, 'show', '-p', 'LoadState', '--value', unit], OPTS);
    const load = show.stdout.trim();
    const name = `unit (${t.name})`;
    if (load === 'not-found') {
      results.push({ name, status: 'fail', detail: `systemd has no unit ${unit}`, fix: `install its unit file, or fix targets.${t.name}.restart` });
    } else if (load === 'masked') {
      results.push({ name, status: 'fail', detail: `${unit} is masked, so restarting it fails`, fix: `systemctl unmask ${unit} (as root), or fix targets.${t.name}.restart` });
    } else {
      results.push({ name, status: 'ok', detail: `${unit}${load ? ` (${load})` : ''}` });
    }
  }
  return results;
}

async function service(g: Group): Promise<CheckResult[]> {
  const bin = g.manager.binary;
  if (!executable(bin)) {
    return [{ name: 'service manager', status: 'fail', detail: `${bin} is not an executable`, fix: 'set service: to the absolute path of service (e.g. /usr/sbin/service, /sbin/service)' }];
  }
  const results: CheckResult[] = [{ name: 'service manager', status: 'ok', detail: `${bin} (init scripts)` }];
  for (const [t, name] of g.entries) {
    const script = `/etc/init.d/${name}`;
    results.push(
      existsSync(script)
        ? { name: `service (${t.name})`, status: 'ok', detail: `${script} exists` }
        : { name: `service (${t.name})`, status: 'fail', detail: `${script} does not exist, so service ${name} restart fails`, fix: `install the init script, or fix targets.${t.name}.restart` },
    );
  }
  return results;
}

async function supervisorctl(g: Group, uid: number): Promise<CheckResult[]> {
  const bin = g.manager.binary;
  if (!executable(bin)) {
    return [{ name: 'service manager', status: 'fail', detail: `${bin} is not an executable`, fix: 'apt-get install supervisor, or set supervisorctl: to its absolute path' }];
  }
  const results: CheckResult[] = [];
  let answered = false;
  for (const [t, program] of g.entries) {
    const argv = [...(uid === 0 ? [] : ['sudo', '-n']), ...managerArgv(g.manager, 'status', program)];
    const r = await run(argv, OPTS);
    const out = `${r.stdout}\n${r.stderr}`;
    const name = `program (${t.name})`;
    if (/password is required|a terminal is required|not allowed to execute|may not run sudo|is not in the sudoers/i.test(r.stderr)) {
      results.push({ name, status: 'warn', detail: `cannot ask supervisord about ${program}: sudo does not allow ${argv.slice(2).join(' ')}`, fix: 'sudo pollpray sudoers --install (it allows the status command too)' });
    } else if (/no such process/i.test(out)) {
      answered = true;
      results.push({ name, status: 'fail', detail: `supervisord has no program ${program}`, fix: `add [program:${program}] to supervisord's config (then supervisorctl update), or fix targets.${t.name}.restart` });
    } else if (new RegExp(`^${program.replace(/[.]/g, '\\.')}\\s+[A-Z]+`, 'm').test(r.stdout)) {
      answered = true;
      const state = /\s([A-Z]+)/.exec(r.stdout)?.[1] ?? '';
      results.push({ name, status: 'ok', detail: `supervisord knows ${program} (${state})` });
    } else {
      // "unix:///run/supervisor.sock no such file", "refused connection": supervisord is not there.
      return [{ name: 'service manager', status: 'fail', detail: `supervisord does not answer ${argv.join(' ')}: ${lastLine(out) || `exit ${r.exitCode}`}`, fix: 'start supervisord (or set supervisor_config: to the config file whose socket it listens on)' }];
    }
  }
  if (answered) results.unshift({ name: 'service manager', status: 'ok', detail: `supervisord answers (${managerArgv(g.manager, 'status', '').slice(0, -2).join(' ')})` });
  return results;
}

/**
 * sudo runs the manager's binary as root, and supervisorctl reads its config as root: a
 * file someone other than root can change is a way to run anything as root.
 */
function rootsAlone(path: string, key: string): CheckResult | undefined {
  let st;
  try {
    st = statSync(path);
  } catch {
    return undefined; // a missing binary is reported by the manager's own check
  }
  if (st.uid === 0 && (st.mode & 0o022) === 0) {
    // The file is root's alone; a directory or link on its way someone else can write would let them swap it.
    const way = trustProblem(path, { uid: 0, user: 'root' }, 'run commands as root through the sudo rule');
    return way ? { name: 'service manager', status: 'fail', detail: `${key}: ${way.message}`, fix: way.fix } : undefined;
  }
  return {
    name: 'service manager',
    status: 'fail',
    detail: `${path} (${key}) can be changed by ${st.uid === 0 ? 'its group or anyone' : `uid ${st.uid}`}, but sudo runs it as root`,
    fix: `chown root:root ${path} && chmod go-w ${path} (as root)`,
  };
}

export const serviceManagers: Check = async ({ config, uid }) => {
  const results: CheckResult[] = [];
  for (const g of groups(config.targets)) {
    const key = g.manager.kind === 'systemd' ? 'systemctl' : g.manager.kind;
    const unsafe = [rootsAlone(g.manager.binary, key), g.manager.config ? rootsAlone(g.manager.config, 'supervisor_config') : undefined].filter((r) => r !== undefined);
    if (unsafe.length > 0) {
      results.push(...unsafe);
      continue;
    }
    if (g.manager.kind === 'systemd') results.push(...(await systemd(g)));
    else if (g.manager.kind === 'service') results.push(...(await service(g)));
    else results.push(...(await supervisorctl(g, uid)));
  }
  return results;
};
