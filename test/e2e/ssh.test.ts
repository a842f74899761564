/**
 * Deploy keys over a real sshd on a loopback port: every test-ssh diagnosis produced for
 * real, trust-host, and runs that share one ssh connection per host and key. Each ssh
 * session is slow as root here (the login shell's rc files run), so tests keep the
 * number of round trips small and batch several targets into one command.
 */
import { execa } from 'execa';
import { chmodSync, chownSync, copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOrigin, type Origin } from '../helpers/origin.js';
import { BIN, makeWorld, type World } from '../helpers/pollpray-cli.js';
import { isRoot, requireBinary, requireRoot } from '../helpers/require-env.js';
import { SSHD, startSshd, type Sshd } from '../helpers/sshd.js';

/** Each CLI call costs a Node start and often an ssh login; generous for a loaded 2-core CI box. */
const SLOW = 120_000;

function target(sshd: Sshd, origin: Origin, world: World, name: string, extra: Record<string, unknown> = {}) {
  const { ssh, ...rest } = extra as { ssh?: Record<string, unknown> };
  return {
    repo: sshd.repoUrl(origin.bare),
    path: join(world.dir, 'www', name),
    ssh: { key: sshd.clientKey, known_hosts: sshd.knownHostsFile, connect_timeout: '3s', ...ssh },
    git_timeout: '20s',
    ...rest,
  };
}

/** The body of a private key: what must never appear in any output. */
function keySecret(path: string): string {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  return lines.slice(1, -1).join('');
}

function lines(text: string): string[] {
  return text.trim().split('\n');
}

function lineOf(text: string, prefix: string): string {
  return lines(text).find((l) => l.startsWith(prefix)) ?? `(no line starting ${prefix} in:\n${text})`;
}

describe.skipIf(requireBinary(SSHD, 'openssh-server') || requireBinary('ssh', 'openssh-client'))('deploy keys over ssh', () => {
  it('test-ssh passes a good target and names a missing branch and a missing repository', async () => {
    const [sshd, origin] = await Promise.all([startSshd(), makeOrigin()]);
    const world = makeWorld();
    world.writeConfig({
      targets: {
        good: target(sshd, origin, world, 'good'),
        nobranch: target(sshd, origin, world, 'nobranch', { branch: 'release' }),
        norepo: { ...target(sshd, origin, world, 'norepo'), repo: sshd.repoUrl(join(origin.dir, 'missing.git')) },
      },
    });
    const r = await world.cli(['test-ssh']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    const head = (await origin.head()).slice(0, 12);
    expect(lineOf(r.stdout, 'good: ok   key:')).toMatch(/client_ed25519 is mode 0600, owned by \w+ \(ssh-ed25519 SHA256:\S+\)$/);
    expect(lineOf(r.stdout, 'good: ok   known_hosts:')).toContain(`[127.0.0.1]:${sshd.port} pinned in ${sshd.knownHostsFile}`);
    expect(lineOf(r.stdout, 'good: ok   branch:')).toBe(`good: ok   branch: main at ${head}`);
    expect(lineOf(r.stdout, 'nobranch: FAIL branch:')).toBe(
      `nobranch: FAIL branch: branch missing: release does not exist on ${sshd.repoUrl(origin.bare)} (branches: main) (fix: push release, or set branch: to one of the existing branches)`,
    );
    expect(lineOf(r.stdout, 'norepo: FAIL repository:')).toMatch(/repository not found: ssh:\/\/.*missing\.git \(fix: check the repo URL/);
    expect(r.stdout).not.toContain(keySecret(sshd.clientKey));

    const one = await world.cli(['test-ssh', 'good']);
    expect(one.exitCode, one.stdout).toBe(0);
  }, SLOW);

  it('test-ssh names a refused key, a too-open key and an unknown host key, each with its fix', async () => {
    const [sshd, origin] = await Promise.all([startSshd(), makeOrigin()]);
    const world = makeWorld();
    const loose = join(world.dir, 'loose_ed25519');
    copyFileSync(sshd.clientKey, loose);
    chmodSync(loose, 0o644);
    const emptyKnownHosts = join(world.dir, 'known_hosts_empty');
    writeFileSync(emptyKnownHosts, '');
    const targets: Record<string, unknown> = {
      wrongkey: target(sshd, origin, world, 'wrongkey', { ssh: { key: sshd.wrongKey } }),
      loose: target(sshd, origin, world, 'loose', { ssh: { key: loose } }),
      unknown: target(sshd, origin, world, 'unknown', { ssh: { known_hosts: emptyKnownHosts } }),
    };
    world.writeConfig({ targets });
    const r = await world.cli(['test-ssh']);
    expect(r.exitCode).toBe(1);
    expect(lineOf(r.stdout, 'wrongkey: FAIL authentication:')).toMatch(
      /authentication refused: the server did not accept this target's key \(no other key was tried\) \(fix: add the key's \.pub as a read-only deploy key/,
    );
    expect(lineOf(r.stdout, 'loose: FAIL key:')).toBe(`loose: FAIL key: ${loose} is mode 0644: every local user can read the deploy key (and ssh refuses it) (fix: chmod 600 ${loose})`);
    expect(lineOf(r.stdout, 'loose: warn connection:')).toMatch(/not tried: fix the problems above first/);
    expect(lineOf(r.stdout, 'unknown: FAIL known_hosts:')).toBe(
      `unknown: FAIL known_hosts: host key unknown: [127.0.0.1]:${sshd.port} is not pinned in ${emptyKnownHosts} (fix: pollpray trust-host 127.0.0.1:${sshd.port} (check the fingerprint it prints against your forge's))`,
    );
    // Only the refused key reached the server, and it did not get in.
    expect(await sshd.acceptedConnections()).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(keySecret(sshd.clientKey));
    expect(r.stdout + r.stderr).not.toContain(keySecret(sshd.wrongKey));
  }, SLOW);

  // Giving the key to another uid takes root; through the gate, so a non-root CI run fails instead of dropping it.
  it.skipIf(requireRoot())('test-ssh fails a key owned by someone else (that user could swap it) and does not connect with it; run refuses it', async () => {
    const [sshd, origin] = await Promise.all([startSshd(), makeOrigin()]);
    const world = makeWorld();
    const foreign = join(world.dir, 'foreign_ed25519');
    copyFileSync(sshd.clientKey, foreign);
    chownSync(foreign, 65534, 65534);
    world.writeConfig({ targets: { foreign: target(sshd, origin, world, 'foreign', { ssh: { key: foreign } }) } });
    const r = await world.cli(['test-ssh']);
    // ssh would take it, but the rule run refuses on (src/config/file-trust.ts) does not.
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(lineOf(r.stdout, 'foreign: FAIL key:')).toMatch(/is owned by uid 65534, not by root or root who runs pollpray: that user could change it and swap the deploy key \(fix: chown root /);
    expect(await sshd.acceptedConnections()).toBe(0);
    const run = await world.cli(['run']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/targets\.foreign\.ssh\.key: \S+foreign_ed25519 is owned by uid 65534.*\(fix: chown root /);
    expect(r.stdout + r.stderr + run.stderr).not.toContain(keySecret(sshd.clientKey));
  }, SLOW);

  it('test-ssh says a key the running user cannot read is unreadable', async () => {
    const [sshd, origin] = await Promise.all([startSshd(), makeOrigin()]);
    const world = makeWorld();
    const key = join(world.dir, 'unreadable_ed25519');
    copyFileSync(sshd.clientKey, key);
    world.writeConfig({ targets: { app: target(sshd, origin, world, 'app', { ssh: { key } }) } });
    let r: { exitCode?: number; stdout: string };
    if (isRoot()) {
      // root reads any file, so the check runs as an unprivileged user that owns the key.
      chmodSync(world.dir, 0o755);
      chmodSync(world.configFile, 0o644);
      chownSync(key, 65534, 65534);
      chmodSync(key, 0o000);
      r = await execa('node', [BIN, 'test-ssh'], { cwd: world.dir, env: world.env, uid: 65534, gid: 65534, reject: false });
    } else {
      chmodSync(key, 0o000);
      r = await world.cli(['test-ssh']);
    }
    expect(r.exitCode).toBe(1);
    expect(lineOf(r.stdout, 'app: FAIL key:')).toMatch(new RegExp(`${key} is not readable by \\S+ \\(mode 0000\\) \\(fix: chmod 600 ${key}\\)$`));
  }, SLOW);

  it('a changed host key is refused loudly by test-ssh and run; a stopped server is unreachable', async () => {
    const [sshd, origin] = await Promise.all([startSshd(), makeOrigin()]);
    const world = makeWorld();
    world.writeConfig({ targets: { app: target(sshd, origin, world, 'app') } });
    await sshd.regenerateHostKey();

    const t = await world.cli(['test-ssh']);
    expect(t.exitCode).toBe(1);
    expect(lineOf(t.stdout, 'app: FAIL connection:')).toMatch(
      new RegExp(`HOST KEY CHANGED for 127\\.0\\.0\\.1:${sshd.port}: .*possible|intercepting.*refusing to connect \\(fix: do not deploy until .*pollpray trust-host 127\\.0\\.0\\.1:${sshd.port} --replace\\)`),
    );
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^pollpray: app: HOST KEY CHANGED for /m);
    expect(existsSync(join(world.dir, 'www', 'app'))).toBe(false);
    expect(await sshd.acceptedConnections()).toBe(0);

    await sshd.stop();
    const down = await world.cli(['test-ssh']);
    expect(down.exitCode).toBe(1);
    expect(lineOf(down.stdout, 'app: FAIL connection:')).toMatch(/host unreachable: connection refused by 127\.0\.0\.1 port \d+ \(fix: check the host and port/);
  }, SLOW);

  it('trust-host pins the host key only when confirmed or the fingerprint matches, once, and refuses a changed key without --replace', async () => {
    const [sshd, origin] = await Promise.all([startSshd(), makeOrigin()]);
    const world = makeWorld();
    const knownHosts = join(world.dir, 'pinned', 'known_hosts');
    world.writeConfig({ targets: { app: target(sshd, origin, world, 'app', { ssh: { known_hosts: knownHosts } }) } });
    const host = `127.0.0.1:${sshd.port}`;
    const real = async () => (await execa('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(sshd.dir, 'host_ed25519.pub')])).stdout.split(' ')[1]!;
    const fp = await real();

    const unconfirmed = await world.cli(['trust-host', host]);
    expect(unconfirmed.exitCode).toBe(2);
    expect(unconfirmed.stderr).toContain(`not confirmed: [127.0.0.1]:${sshd.port} presents ssh-ed25519 ${fp}; nothing written to ${knownHosts}`);
    const wrong = await world.cli(['trust-host', host, '--fingerprint', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']);
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toMatch(/none of .* host keys has fingerprint SHA256:A+; nothing was written/);
    expect(existsSync(knownHosts)).toBe(false);

    const ok = await world.cli(['trust-host', host, '--fingerprint', fp]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`${host}: ssh-ed25519 ${fp}`);
    expect(readFileSync(knownHosts, 'utf8')).toBe(`${sshd.knownHostsLine}\n`);
    const again = await world.cli(['trust-host', host, '--yes']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain(`${knownHosts}: 1 already pinned`);
    expect(readFileSync(knownHosts, 'utf8')).toBe(`${sshd.knownHostsLine}\n`);

    const oldLine = sshd.knownHostsLine;
    await sshd.regenerateHostKey();
    const changed = await world.cli(['trust-host', host, '--yes']);
    expect(changed.exitCode).toBe(1);
    expect(changed.stderr).toMatch(/HOST KEY CHANGED: .* already pins a different key .* nothing was written \(fix: only if the server's owner confirms the new key: pollpray trust-host .* --replace\)/);
    expect(readFileSync(knownHosts, 'utf8')).toBe(`${oldLine}\n`);
    const replaced = await world.cli(['trust-host', host, '--yes', '--replace']);
    expect(replaced.exitCode, replaced.stderr).toBe(0);
    expect(readFileSync(knownHosts, 'utf8')).toBe(`${sshd.knownHostsLine}\n`);

    const t = await world.cli(['test-ssh']);
    expect(t.exitCode, t.stdout).toBe(0);
  }, SLOW);

  it('run deploys over ssh with one shared connection per host and key, and a wrong key fails only its own target', async () => {
    const [sshd, a, b, c] = await Promise.all([startSshd(), makeOrigin(), makeOrigin(), makeOrigin()]);
    const world = makeWorld();
    world.writeConfig({
      concurrency: 4,
      targets: {
        a: target(sshd, a, world, 'a'),
        b: target(sshd, b, world, 'b'),
        bad: target(sshd, b, world, 'bad', { ssh: { key: sshd.wrongKey } }),
        c: target(sshd, c, world, 'c'),
      },
    });
    const first = await world.cli(['run']);
    expect(first.exitCode).toBe(1);
    expect(lines(first.stderr)).toEqual([expect.stringMatching(/^pollpray: bad: authentication refused: the server did not accept this target's key/)]);
    const head = (dir: string) => execa('git', ['-C', join(world.dir, 'www', dir), 'rev-parse', 'HEAD']).then((r) => r.stdout);
    expect(await head('a')).toBe(await a.head());
    expect(await head('b')).toBe(await b.head());
    expect(await head('c')).toBe(await c.head());
    expect(existsSync(join(world.dir, 'www', 'bad'))).toBe(false);
    // Three ls-remotes and three clones over one login.
    expect(await sshd.acceptedConnections()).toBe(1);

    const next = await b.commit({ 'v2.txt': 'two\n' }, 'Second version');
    const second = await world.cli(['run', 'a', 'b', 'c']);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(await head('b')).toBe(next);
    expect(world.state('b')).toMatchObject({ deployedSha: next, lastResult: 'deployed' });
    expect(await sshd.acceptedConnections()).toBe(2);

    // The masters were closed when each run ended: no socket, no ssh process left.
    const controlDir = join(world.stateDir, 'ssh');
    expect(readdirSync(controlDir)).toEqual([]);
    const leftovers = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(controlDir);
        } catch {
          return false;
        }
      });
    expect(leftovers).toEqual([]);

    const everything = first.stdout + first.stderr + second.stdout + second.stderr + world.logText();
    expect(everything).not.toContain(keySecret(sshd.clientKey));
    expect(everything).not.toContain(keySecret(sshd.wrongKey));
  }, SLOW);
});
