/**
 * A deploy key ssh cannot use unattended (rows 66 and 67): one protected by a passphrase
 * (a personal key reused) and one others can read (copied with cp, mode 0644), over a
 * real loopback sshd. run, test-ssh and doctor name the key file and the fix.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireBinary } from '../helpers/require-env.js';
import { SSHD } from '../helpers/sshd.js';
import { expectOneLineError, expectState, short } from './fault-world.js';
import { sshWorld } from './ssh-world.js';

const PASSPHRASE = 'hunter2-personal';
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe.skipIf(requireBinary(SSHD, 'openssh-server') || requireBinary('ssh', 'openssh-client') || requireBinary('ssh-keygen', 'openssh-client'))('deploy key faults', { timeout: 60_000 }, () => {
  it('#66 a deploy key with a passphrase: run, test-ssh and doctor say the key is encrypted and how to fix it (never "authentication refused"); not counted; recovers once fixed', async () => {
    const s = await sshWorld();
    expect((await s.world.cli(['run'])).exitCode).toBe(0);
    const head = await s.origin.head();
    // The operator points the target at a personal key that has a passphrase.
    const key = join(s.world.dir, 'personal_ed25519');
    copyFileSync(s.sshd.clientKey, key);
    chmodSync(key, 0o600);
    execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', PASSPHRASE, '-f', key]);
    s.write({ key });
    const next = await s.origin.commit({ 'v.txt': '2\n' }, 'v2');

    const r = await s.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', new RegExp(`${esc(key)} is protected by a passphrase.*ssh-keygen -p -f ${esc(key)}`));
    expect(r.stderr).not.toMatch(/authentication refused|ssh-keygen -t ed25519 -N '' -f \S*personal/);
    expect(s.live()).toBe(short(head));
    expectState(s.world, 'app', { deployedSha: head, failures: {}, lastFault: 'host' });

    const t = await s.world.cli(['test-ssh']);
    expect(t.exitCode).toBe(1);
    expect(t.stdout).toMatch(new RegExp(`^app: FAIL key: ${esc(key)} is protected by a passphrase.*\\(fix: .*ssh-keygen -p -f ${esc(key)}`, 'm'));
    // Never a fix that would overwrite the operator's own key with a new one.
    expect(t.stdout).not.toMatch(new RegExp(`-t ed25519 -N '' -f ${esc(key)}`));

    const d = await s.world.cli(['doctor']);
    expect(d.exitCode).toBe(1);
    expect(d.stdout).toMatch(new RegExp(`^FAIL +key \\(app\\) +${esc(key)} is protected by a passphrase.*ssh-keygen -p -f ${esc(key)}`, 'm'));

    for (const out of [r.stderr, r.stdout, t.stdout, t.stderr, d.stdout, d.stderr, s.world.logText()]) {
      expect(out).not.toContain(PASSPHRASE);
      expect(out).not.toMatch(/PRIVATE KEY-----|password:|passphrase for key/i);
    }

    // The fix the message gives: remove the passphrase. The next run deploys without --force.
    execFileSync('ssh-keygen', ['-q', '-p', '-P', PASSPHRASE, '-N', '', '-f', key]);
    const back = await s.world.cli(['run']);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(s.live()).toBe(short(next));
  });

  it('#67 a deploy key others can read (cp left it 0644): run names the key file and chmod 600 it, as test-ssh and doctor do; recovers once fixed', async () => {
    const s = await sshWorld();
    const key = join(s.world.dir, 'copied_ed25519');
    copyFileSync(s.sshd.clientKey, key);
    chmodSync(key, 0o644);
    s.write({ key });

    const r = await s.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', new RegExp(`${esc(key)} is mode 0644.*\\(fix: chmod 600 ${esc(key)}\\)$`));
    expect(s.world.state('app')).toMatchObject({ deployedSha: null, failures: {}, lastFault: 'host' });

    const t = await s.world.cli(['test-ssh']);
    expect(t.exitCode).toBe(1);
    expect(t.stdout).toMatch(new RegExp(`^app: FAIL key: ${esc(key)} is mode 0644.*\\(fix: chmod 600 ${esc(key)}\\)$`, 'm'));
    const d = await s.world.cli(['doctor']);
    expect(d.exitCode).toBe(1);
    expect(d.stdout).toMatch(new RegExp(`^FAIL +key \\(app\\) +${esc(key)} is mode 0644.*\\(fix: chmod 600 ${esc(key)}\\)$`, 'm'));

    chmodSync(key, 0o600);
    const back = await s.world.cli(['run']);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(s.live()).toBe(short(await s.origin.head()));
  });

  it('#72 a deploy key named only by an IdentityFile in ssh.config, with a passphrase or mode 0644: doctor fails the key with its fix (before: only "connection not tried"), as test-ssh and run do; recovers once fixed', async () => {
    const s = await sshWorld();
    const key = join(s.world.dir, 'personal_ed25519');
    copyFileSync(s.sshd.clientKey, key);
    chmodSync(key, 0o600);
    execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', PASSPHRASE, '-f', key]);
    // No ssh.key: the key is the IdentityFile the target's ssh config gives its host. First none at all.
    const sshConfig = join(s.world.dir, 'ssh_config');
    writeFileSync(sshConfig, `Host ${s.sshd.host}\n  ConnectTimeout 2\n`, { mode: 0o600 });
    s.write({ key: undefined, config: sshConfig });
    const none = await s.world.cli(['doctor']);
    expect(none.exitCode).toBe(1);
    expect(none.stdout).toMatch(new RegExp(`^FAIL +key \\(app\\) +no deploy key: neither ssh.key nor an IdentityFile for ${esc(s.sshd.host)} in ${esc(sshConfig)} \\(fix: set ssh.key`, 'm'));

    writeFileSync(sshConfig, `Host ${s.sshd.host}\n  IdentityFile ${key}\n`, { mode: 0o600 });
    s.write({ key: undefined, config: sshConfig });

    const d = await s.world.cli(['doctor']);
    expect(d.exitCode).toBe(1);
    expect(d.stdout).toMatch(new RegExp(`^FAIL +key \\(app\\) +${esc(key)} is protected by a passphrase.*\\(fix: .*ssh-keygen -p -f ${esc(key)}\\)$`, 'm'));
    const t = await s.world.cli(['test-ssh']);
    expect(t.exitCode).toBe(1);
    expect(t.stdout).toMatch(new RegExp(`^app: FAIL key: ${esc(key)} is protected by a passphrase.*ssh-keygen -p -f ${esc(key)}`, 'm'));
    const r = await s.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', new RegExp(`${esc(key)} is protected by a passphrase`));
    for (const out of [d.stdout, d.stderr, t.stdout, r.stderr, s.world.logText()]) expect(out).not.toContain(PASSPHRASE);

    // Passphrase removed, but the copy is 0644.
    execFileSync('ssh-keygen', ['-q', '-p', '-P', PASSPHRASE, '-N', '', '-f', key]);
    chmodSync(key, 0o644);
    const open = await s.world.cli(['doctor']);
    expect(open.exitCode).toBe(1);
    expect(open.stdout).toMatch(new RegExp(`^FAIL +key \\(app\\) +${esc(key)} is mode 0644.*\\(fix: chmod 600 ${esc(key)}\\)$`, 'm'));

    chmodSync(key, 0o600);
    const good = await s.world.cli(['doctor']);
    expect(good.stdout).toMatch(new RegExp(`^ok +key \\(app\\) +${esc(key)}`, 'm'));
    expect(good.stdout).toMatch(/^ok +app: branch /m);
    const back = await s.world.cli(['run']);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(s.live()).toBe(short(await s.origin.head()));
  });
});
