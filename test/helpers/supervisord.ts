/**
 * A real supervisord (Debian's `supervisor` package) for one test, as root: its own
 * config file, unix socket (mode 0700, root's, as on a real host), logs and pid file in a
 * temp dir, one long-running program per name. Stopped by PID when the test ends.
 *
 *   describe.skipIf(requireSupervisord())('restart with supervisorctl', () => { ... });
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { findBinary, requireBinary, requireRoot } from './require-env.js';

export interface Supervisord {
  /** The config file: what `supervisorctl -c` and pollpray's supervisor_config name. */
  config: string;
  supervisorctl: string;
  /** The program's current PID, as supervisord reports it (0 when not running). */
  pid(program: string): Promise<number>;
}

export function requireSupervisord(): boolean {
  return requireRoot() || requireBinary('supervisord', 'supervisor') || requireBinary('supervisorctl', 'supervisor');
}

export async function startSupervisord(programs: string[]): Promise<Supervisord> {
  const supervisord = findBinary('supervisord');
  const supervisorctl = findBinary('supervisorctl');
  if (!supervisord || !supervisorctl) throw new Error('supervisord not installed; guard the suite with requireSupervisord()');
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-sv-'));
  const config = join(dir, 'supervisord.conf');
  const socket = join(dir, 'supervisor.sock');
  writeFileSync(
    config,
    [
      '[unix_http_server]',
      `file=${socket}`,
      'chmod=0700',
      '[supervisord]',
      `logfile=${join(dir, 'supervisord.log')}`,
      `pidfile=${join(dir, 'supervisord.pid')}`,
      `childlogdir=${dir}`,
      'nodaemon=true',
      '[rpcinterface:supervisor]',
      'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
      '[supervisorctl]',
      `serverurl=unix://${socket}`,
      ...programs.flatMap((p) => [`[program:${p}]`, 'command=/bin/sleep 3600', 'startsecs=0', 'stopsignal=KILL']),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const child = execa(supervisord, ['-n', '-c', config], { reject: false, stdio: 'ignore', detached: true });
  const pid = child.pid;
  onTestFinished(async () => {
    // supervisord stops its programs on SIGTERM; only our own process, by PID.
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await child;
    rmSync(dir, { recursive: true, force: true });
  });

  const sv: Supervisord = {
    config,
    supervisorctl,
    async pid(program) {
      const r = await execa(supervisorctl, ['-c', config, 'pid', program], { reject: false });
      const n = Number(r.stdout.trim());
      return Number.isInteger(n) ? n : 0;
    },
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const all = await Promise.all(programs.map((p) => sv.pid(p)));
    if (all.every((n) => n > 0)) break;
    if (Date.now() > deadline) throw new Error(`supervisord did not start ${programs.join(', ')} within 10 s`);
    await new Promise((res) => setTimeout(res, 100));
  }
  return sv;
}
