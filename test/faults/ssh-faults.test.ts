/** Faults between pollpray and an ssh remote (rows 1-5 of the failure-modes table), over a real loopback sshd. */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOrigin, type Origin } from '../helpers/origin.js';
import { makeWorld, type World } from '../helpers/pollpray-cli.js';
import { requireBinary } from '../helpers/require-env.js';
import { SSHD, startSshd, type Sshd } from '../helpers/sshd.js';
import { expectOneLineError, expectState, short } from './fault-world.js';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Processes whose command line mentions `needle` (the test's own key path): ssh clients of this test. */
function processesMentioning(needle: string): number[] {
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

interface SshWorld {
  sshd: Sshd;
  origin: Origin;
  world: World;
  live(): string;
  write(ssh?: Record<string, unknown>, extra?: Record<string, unknown>): void;
}

async function sshWorld(opts: { extraConfig?: string[] } = {}): Promise<SshWorld> {
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
  const live = () => readFileSync(join(path, '.git', 'HEAD'), 'utf8') && readFileSync(join(path, '.git', 'refs', 'heads', 'main'), 'utf8').trim().slice(0, 12);
  return { sshd, origin, world, live, write };
}

describe.skipIf(requireBinary(SSHD, 'openssh-server') || requireBinary('ssh', 'openssh-client'))('ssh faults', { timeout: 60_000 }, () => {
  it('#1 host unreachable: connection error for that target, other targets still run, exit 1', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const key = join(world.dir, 'id_ed25519');
    writeFileSync(key, '', { mode: 0o600 });
    const port = await closedPort();
    const config = (repo: string) =>
      world.writeConfig({
        targets: {
          down: { repo, path: join(world.dir, 'www', 'down'), ssh: { connect_timeout: '1s' }, git_timeout: '5s' },
          up: { repo: origin.url, path: join(world.dir, 'www', 'up') },
        },
      });
    config(`ssh://git@127.0.0.1:${port}/srv/app.git`);
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'down', /connect|unreachable|refused/i);
    expect(r.stderr).not.toMatch(/^pollpray: up:/m);
    expect(world.state('up')).toMatchObject({ deployedSha: await origin.head(), lastResult: 'deployed' });
    expect(world.state('down')).toMatchObject({ deployedSha: null });

    config(origin.url);
    const back = await world.cli(['run', 'down']);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(world.state('down')).toMatchObject({ deployedSha: await origin.head() });
  });

  it('#2 auth refused: no prompt (BatchMode), a clear message, recovers once the key is authorized again', async () => {
    const s = await sshWorld();
    expect((await s.world.cli(['run'])).exitCode).toBe(0);
    const head = await s.origin.head();
    s.sshd.deauthorize();
    const next = await s.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const r = await s.world.cli(['run'], { timeoutMs: 30_000 });
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', /auth|permission denied|key.*(refused|rejected|not accepted)/i);
    expect(r.stderr).not.toMatch(/passphrase|password:/i);
    expect(s.live()).toBe(short(head));
    expectState(s.world, 'app', { deployedSha: head });

    s.sshd.authorize(s.sshd.clientKeyPub);
    expect((await s.world.cli(['run'])).exitCode).toBe(0);
    expect(s.live()).toBe(short(next));
  });

  it('#3 unknown host key: refused, never auto-added, says trust-host', async () => {
    const s = await sshWorld();
    const empty = join(s.world.dir, 'known_hosts');
    writeFileSync(empty, '');
    s.write({ known_hosts: empty });
    const r = await s.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', /trust-host/);
    expect(readFileSync(empty, 'utf8')).toBe('');
    expect(s.world.state('app')?.deployedSha ?? null).toBeNull();

    s.write();
    expect((await s.world.cli(['run'])).exitCode).toBe(0);
    expect(s.live()).toBe(short(await s.origin.head()));
  });

  it('#4 changed host key: hard fail saying "host key changed"', async () => {
    const s = await sshWorld();
    expect((await s.world.cli(['run'])).exitCode).toBe(0);
    const head = await s.origin.head();
    await s.sshd.regenerateHostKey();
    const r = await s.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', /host key changed/i);
    expect(s.live()).toBe(short(head));
    expectState(s.world, 'app', { deployedSha: head });

    s.sshd.trustCurrentHostKey();
    const next = await s.origin.commit({ 'v.txt': '2\n' }, 'v2');
    expect((await s.world.cli(['run'])).exitCode).toBe(0);
    expect(s.live()).toBe(short(next));
  });

  it('#5 slow server: git is killed at git_timeout with its ssh child', async () => {
    const s = await sshWorld({ extraConfig: ['ForceCommand sleep 30'] });
    s.write({}, { git_timeout: '1s' });
    const r = await s.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', /timed out|timeout/i);
    expect(r.durationMs).toBeLessThan(15_000);
    expect(processesMentioning(s.sshd.clientKey)).toEqual([]);
    expect(s.world.state('app')?.deployedSha ?? null).toBeNull();
  });
});
