import { execa } from 'execa';
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeOrigin } from '../helpers/origin.js';
import { requireBinary } from '../helpers/require-env.js';
import { SSHD, startSshd, type Sshd } from '../helpers/sshd.js';

function ssh(server: Sshd, command: string[], key?: string) {
  return execa('ssh', [...server.sshArgs(key), '-p', String(server.port), `${server.user}@127.0.0.1`, ...command], {
    reject: false,
    stdin: 'ignore',
    timeout: 20_000,
  });
}

function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

describe.skipIf(requireBinary(SSHD, 'openssh-server') || requireBinary('ssh', 'openssh-client'))('startSshd', () => {
  it('runs a command for the authorized key with strict host key checking, and counts the login', async () => {
    const server = await startSshd();
    expect(server.host).toBe('127.0.0.1');
    expect(readFileSync(server.knownHostsFile, 'utf8')).toBe(`${server.knownHostsLine}\n`);
    expect(server.knownHostsLine).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${server.port} ssh-ed25519 AAAA\\S+$`));
    for (const key of [server.clientKey, server.wrongKey]) expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(await server.acceptedConnections()).toBe(0);

    const r = await ssh(server, ['git', '--version']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^git version /);
    expect(await server.acceptedConnections()).toBe(1);
  });

  it('serves git ls-remote over ssh:// to a bare repo by absolute path', async () => {
    const [server, origin] = await Promise.all([startSshd(), makeOrigin()]);
    const r = await execa('git', ['ls-remote', server.repoUrl(origin.bare), 'refs/heads/main'], {
      env: { ...origin.env, GIT_SSH_COMMAND: server.sshCommand() },
      extendEnv: false,
      reject: false,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${await origin.head()}\trefs/heads/main`);
  });

  it('refuses the wrong key until it is authorized, and the client key after deauthorize', async () => {
    const server = await startSshd();
    const refused = await ssh(server, ['true'], server.wrongKey);
    expect(refused.exitCode).toBe(255);
    expect(refused.stderr).toMatch(/Permission denied \(publickey\)/);
    expect(await server.acceptedConnections()).toBe(0);
    expect(await server.connections()).toBe(1);

    server.authorize(server.wrongKeyPub);
    expect((await ssh(server, ['true'], server.wrongKey)).exitCode).toBe(0);
    server.deauthorize(server.clientKeyPub);
    expect((await ssh(server, ['true'])).exitCode).toBe(255);
    expect((await ssh(server, ['true'], server.wrongKey)).exitCode).toBe(0);
    server.deauthorize();
    expect((await ssh(server, ['true'], server.wrongKey)).exitCode).toBe(255);
  });

  it('a regenerated host key on the same port is refused until trusted', async () => {
    const server = await startSshd();
    const { port, knownHostsLine } = server;
    await server.regenerateHostKey();
    expect(server.port).toBe(port);
    expect(server.knownHostsLine).not.toBe(knownHostsLine);
    const r = await ssh(server, ['true']);
    expect(r.exitCode).toBe(255);
    expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    server.trustCurrentHostKey();
    expect((await ssh(server, ['true'])).exitCode).toBe(0);
  });

  it('stop kills its own sshd and start brings it back on the same port', async () => {
    const server = await startSshd();
    const pid = server.pid!;
    await server.stop();
    expect(server.pid).toBeUndefined();
    expect(processGone(pid)).toBe(true);
    expect((await ssh(server, ['true'])).stderr).toMatch(/Connection refused/);
    await server.start();
    expect(server.pid).not.toBe(pid);
    expect((await ssh(server, ['true'])).exitCode).toBe(0);
  });
});
