/**
 * No usable home directory (row 70): a systemd unit without User= or a container's
 * `--user 54321` (no passwd entry, no HOME), a HOME that does not exist. `run` deploys;
 * the early-connect cache in ~/.cache/pollpray only loses its head start.
 */
import { execa } from 'execa';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN } from '../helpers/pollpray-cli.js';
import { requireRoot } from '../helpers/require-env.js';
import { makeSudoFixture, requireSudoFixture } from '../helpers/sudo-user.js';
import { makeUserWorld } from '../helpers/user-world.js';
import { expectOneLineError, expectState, faultWorld, short } from './fault-world.js';
import { sshWorld } from './ssh-world.js';

/** A uid no /etc/passwd names: os.userInfo() and os.homedir() have nothing to go on. */
const NO_PASSWD_UID = 54321;

describe('no usable home directory', { timeout: 60_000 }, () => {
  it('#70 a HOME that does not exist: run deploys, twice, and never creates it', async () => {
    const f = await faultWorld();
    const home = join(f.world.dir, 'no-such-home');
    for (const n of [1, 2]) {
      const next = await f.origin.commit({ 'v.txt': `${n}\n` }, `v${n}`);
      const r = await f.world.cli(['run'], { env: { HOME: home } });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect(f.live()).toBe(short(next));
    }
    expect(existsSync(home)).toBe(false);
  });

  it.skipIf(requireSudoFixture())('#70 a HOME the user cannot write (root\'s directory, a read-only home): run deploys and writes nothing there', async () => {
    const sudo = await makeSudoFixture();
    const u = await makeUserWorld(sudo, { restart: [] });
    const home = join(u.world.dir, 'home-of-root');
    mkdirSync(home);
    chmodSync(home, 0o755);
    const r = await sudo.runAs(['node', BIN, 'run'], { cwd: u.world.dir, env: { POLLPRAY_CONFIG: u.world.configFile, GIT_CONFIG_NOSYSTEM: '1', HOME: home } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(readdirSync(home)).toEqual([]);
    expectState(u.world, 'app', { deployedSha: u.head, lastResult: 'deployed' });
  });

  it.skipIf(requireRoot())('#70 a uid without a passwd entry and no HOME (docker run --user 54321): run deploys, status and a second run work, never a stack trace', async () => {
    const f = await faultWorld();
    const give = async (uid: number) => execa('chown', ['-R', `${uid}:${uid}`, f.world.dir, f.origin.dir]);
    const cli = (args: string[]) =>
      execa('node', [BIN, ...args], {
        uid: NO_PASSWD_UID,
        gid: NO_PASSWD_UID,
        cwd: f.world.dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', POLLPRAY_CONFIG: f.world.configFile, GIT_CONFIG_NOSYSTEM: '1' },
        extendEnv: false,
        reject: false,
        timeout: 30_000,
      });
    let head = await f.origin.head();
    for (const n of [1, 2]) {
      await give(NO_PASSWD_UID);
      const r = await cli(['run']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/homedir|SystemError|internal error|bug in pollpray/);
      await give(0);
      expect(f.live()).toBe(short(head));
      expectState(f.world, 'app', { deployedSha: head, lastResult: 'deployed' });
      head = await f.origin.commit({ 'v.txt': `${n}\n` }, `v${n}`);
    }
    await give(NO_PASSWD_UID);
    const status = await cli(['status']);
    await give(0);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^app\s/m);
  });

  it.skipIf(requireRoot())('#70 over ssh, a uid without a passwd entry: ssh itself will not start; run, test-ssh and doctor say so with the useradd that fixes it (before: "ls-remote failed: and the repository exists.")', async () => {
    const s = await sshWorld();
    // The key and pinned host key where that uid can read them, as its own.
    const key = join(s.world.dir, 'deploy_ed25519');
    const knownHosts = join(s.world.dir, 'known_hosts');
    copyFileSync(s.sshd.clientKey, key);
    copyFileSync(s.sshd.knownHostsFile, knownHosts);
    s.write({ key, known_hosts: knownHosts });
    await execa('chown', ['-R', `${NO_PASSWD_UID}:${NO_PASSWD_UID}`, s.world.dir]);
    const cli = (args: string[]) =>
      execa('node', [BIN, ...args], {
        uid: NO_PASSWD_UID,
        gid: NO_PASSWD_UID,
        cwd: s.world.dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', POLLPRAY_CONFIG: s.world.configFile },
        extendEnv: false,
        reject: false,
        timeout: 30_000,
      });
    const fix = new RegExp(`ssh cannot run as uid ${NO_PASSWD_UID}: no user of that uid exists.*\\(fix: .*useradd --system --uid ${NO_PASSWD_UID}`);
    const r = await cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', fix);
    const t = await cli(['test-ssh']);
    expect(t.exitCode).toBe(1);
    expect(t.stdout).toMatch(fix);
    const d = await cli(['doctor']);
    expect(d.exitCode).toBe(1);
    expect(d.stderr).not.toMatch(/internal error|uv_os/);
    expect(d.stdout).toMatch(fix);
    await execa('chown', ['-R', '0:0', s.world.dir]);
    expectState(s.world, 'app', { deployedSha: null, failures: {}, lastFault: 'host' });
  });
});
