/** A target on a real loopback sshd, for the ssh fault rows. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { makeOrigin, type Origin } from '../helpers/origin.js';
import { makeWorld, type World } from '../helpers/pollpray-cli.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Processes whose command line mentions `needle` (the test's own key path): ssh clients of this test. */
export function processesMentioning(needle: string): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

export interface SshWorld {
  sshd: Sshd;
  origin: Origin;
  world: World;
  live(): string;
  write(ssh?: Record<string, unknown>, extra?: Record<string, unknown>): void;
}

export async function sshWorld(opts: { extraConfig?: string[] } = {}): Promise<SshWorld> {
  const [sshd, origin] = await Promise.all([startSshd({ extraConfig: opts.extraConfig }), makeOrigin()]);
  const world = makeWorld();
  const path = join(world.dir, 'www', 'app');
  const write = (ssh: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
    world.writeConfig({
      targets: {
        app: {
          repo: sshd.repoUrl(origin.bare),
          path,
          ssh: { key: sshd.clientKey, known_hosts: sshd.knownHostsFile, connect_timeout: '2s', ...ssh },
          git_timeout: '20s',
          ...extra,
        },
      },
    });
  write();
  const live = () => execFileSync('git', ['-C', path, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim().slice(0, 12);
  return { sshd, origin, world, live, write };
}

