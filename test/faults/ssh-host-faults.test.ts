/** A changed or slow ssh server and a too-open deploy key (rows 4, 5 and 26), over a real loopback sshd. */
import { chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireBinary } from '../helpers/require-env.js';
import { SSHD } from '../helpers/sshd.js';
import { expectOneLineError, expectState, short } from './fault-world.js';
import { processesMentioning, sshWorld } from './ssh-world.js';

describe.skipIf(requireBinary(SSHD, 'openssh-server') || requireBinary('ssh', 'openssh-client'))('ssh host faults', { timeout: 60_000 }, () => {
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
    expectOneLineError(r.stderr, 'app', /ls-remote did not finish within git_timeout \(1\.0s\) and was killed \(fix: .*raise git_timeout/);
    expect(r.durationMs).toBeLessThan(15_000);
    expect(processesMentioning(s.sshd.clientKey)).toEqual([]);
    expect(s.world.state('app')?.deployedSha ?? null).toBeNull();
  });
  it('#26 world-writable deploy key: refused at load with the fix (chmod 600, exit 2), recovers once fixed', async () => {
    const s = await sshWorld();
    const key = join(s.world.dir, 'deploy_ed25519');
    copyFileSync(s.sshd.clientKey, key);
    chmodSync(key, 0o666);
    s.write({ key });
    // Another local user could swap it: refused at load, like a world-writable deploy script (exit 2).
    const r = await s.world.cli(['run']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toMatch(new RegExp(`^pollpray: \\S+:\\d+ targets\\.app\\.ssh\\.key: ${key} is group- and world-writable \\(mode 0666\\).*\\(fix: chmod 600 ${key}\\)$`));
    expect(s.world.state('app')?.deployedSha ?? null).toBeNull();
    chmodSync(key, 0o600);
    expect((await s.world.cli(['run'])).exitCode).toBe(0);
    expect(s.live()).toBe(short(await s.origin.head()));
  });
});
