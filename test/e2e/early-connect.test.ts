/**
 * `run` starts its ssh handshakes before it has parsed the config again, from the record
 * the last run of the same config wrote (src/git/early-connect.ts). These tests hold
 * the guarantees around that head start: one login per run as before, nothing left
 * running, and no connection at all from a config, a named file or a record another
 * local user could change.
 */
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOrigin, type Origin } from '../helpers/origin.js';
import { makeWorld, type World } from '../helpers/pollpray-cli.js';
import { requireBinary, requireRoot } from '../helpers/require-env.js';
import { SSHD, startSshd, type Sshd } from '../helpers/sshd.js';

const SLOW = 120_000;

function target(sshd: Sshd, origin: Origin, world: World, name: string) {
  return {
    repo: sshd.repoUrl(origin.bare),
    path: join(world.dir, 'www', name),
    ssh: { key: sshd.clientKey, known_hosts: sshd.knownHostsFile, connect_timeout: '3s' },
    git_timeout: '20s',
  };
}

function recordFile(world: World): string {
  const dir = join(world.env.HOME as string, '.cache', 'pollpray');
  const [name] = readdirSync(dir).filter((f) => f.startsWith('connect-') && f.endsWith('.json'));
  return join(dir, name as string);
}

describe.skipIf(requireBinary(SSHD, 'openssh-server') || requireBinary('ssh', 'openssh-client'))('ssh connections started early', () => {
  // Handing the record to another uid takes root; through the gate, so a non-root CI run fails instead of dropping it.
  it.skipIf(requireRoot())('an unchanged run logs in once from the last run\'s record, and never from a config, known_hosts, state dir or record another user could change', async () => {
    const [sshd, other, origin] = await Promise.all([startSshd(), startSshd(), makeOrigin()]);
    const world = makeWorld();
    // The record goes under an existing home only (pollpray never creates a missing HOME).
    mkdirSync(world.env.HOME as string, { mode: 0o700 });
    world.writeConfig({ targets: { app: target(sshd, origin, world, 'app') } });
    const first = await world.cli(['run']);
    expect(first.exitCode, first.stderr).toBe(0);
    const record = recordFile(world);
    expect(statSync(record).mode & 0o777).toBe(0o600);

    // The next run opens its connection from the record: still one login, nothing left behind.
    const second = await world.cli(['run']);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(await sshd.acceptedConnections()).toBe(2);
    expect(readdirSync(join(world.stateDir, 'ssh'))).toEqual([]);

    // A known_hosts or a config others may write is refused by the run, and nothing connects before that.
    const before = await sshd.connections();
    chmodSync(sshd.knownHostsFile, 0o666);
    const writableKnownHosts = await world.cli(['run']);
    chmodSync(sshd.knownHostsFile, 0o644);
    expect(writableKnownHosts.exitCode).toBe(2);
    chmodSync(world.configFile, 0o666);
    const writableConfig = await world.cli(['run']);
    chmodSync(world.configFile, 0o600);
    expect(writableConfig.exitCode).toBe(2);
    // The state dir holds the connection's socket: one others may write stops the run before any connection too.
    const stateMode = statSync(world.stateDir).mode & 0o7777;
    chmodSync(world.stateDir, 0o777);
    const writableState = await world.cli(['run']);
    chmodSync(world.stateDir, stateMode);
    expect(writableState.exitCode, writableState.stderr).toBe(2);
    expect(await sshd.connections()).toBe(before);

    // A record pointing elsewhere: replayed only when nobody else could have written it.
    const tamper = () => {
      const data = JSON.parse(readFileSync(record, 'utf8')) as { plans: Array<{ dest: string[] }> };
      for (const plan of data.plans) plan.dest = ['-p', String(other.port), '--', plan.dest.at(-1) as string];
      writeFileSync(record, JSON.stringify(data), { mode: 0o600 });
    };
    tamper();
    chownSync(record, 65534, 65534);
    const foreignRecord = await world.cli(['run']);
    expect(foreignRecord.exitCode, foreignRecord.stderr).toBe(0);
    expect(await other.connections()).toBe(0);
    // The same record, ours: replayed, and the connection the config does not make is closed, not used.
    tamper();
    const ownRecord = await world.cli(['run']);
    expect(ownRecord.exitCode, ownRecord.stderr).toBe(0);
    expect(await other.connections()).toBeGreaterThan(0);
    expect(readdirSync(join(world.stateDir, 'ssh'))).toEqual([]);
    expect(world.state('app')).toMatchObject({ deployedSha: await origin.head(), lastResult: 'unchanged' });
  }, SLOW);
});
