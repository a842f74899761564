/** Faults between pollpray and an ssh remote (rows 1-3 of the failure-modes table), over a real loopback sshd. */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { makeOrigin } from '../helpers/origin.js';
import { makeWorld, until } from '../helpers/pollpray-cli.js';
import { requireBinary } from '../helpers/require-env.js';
import { SSHD, startSshd } from '../helpers/sshd.js';
import { randomBytes } from 'node:crypto';
import { everythingShown, lfsForge } from '../helpers/lfs-forge.js';
import { expectOneLineError, expectState, short } from './fault-world.js';
import { closedPort, sshWorld } from './ssh-world.js';

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
    expectOneLineError(r.stderr, 'down', /host unreachable: connection refused/);
    expect(r.stderr).not.toMatch(/^pollpray: up:/m);
    expect(world.state('up')).toMatchObject({ deployedSha: await origin.head(), lastResult: 'deployed' });
    expect(world.state('down')).toMatchObject({ deployedSha: null });

    config(origin.url);
    const back = await world.cli(['run', 'down']);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(world.state('down')).toMatchObject({ deployedSha: await origin.head() });
  });

  it("#98 a run that ends while another run's ssh master serves it (cron's run and one by hand, on two targets of one host): it leaves that master open, never sends it -O exit", async () => {
    const [sshd, a, b] = await Promise.all([startSshd(), makeOrigin(), makeOrigin()]);
    const world = makeWorld();
    const slow = world.script('slow.sh', `touch "${world.dir}/blocked"\nwhile [ ! -f "${world.dir}/go" ]; do sleep 0.05; done`);
    const quick = world.script('quick.sh', 'true');
    const target = (name: string, origin: typeof a, deploy: string) => ({
      repo: sshd.repoUrl(origin.bare),
      path: join(world.dir, 'www', name),
      deploy,
      ssh: { key: sshd.clientKey, known_hosts: sshd.knownHostsFile, connect_timeout: '3s' },
      git_timeout: '20s',
    });
    world.writeConfig({ targets: { a: target('a', a, slow), b: target('b', b, quick) } });
    const controlDir = join(world.stateDir, 'ssh');
    const first = world.spawn(['run', 'a']);
    await until(() => existsSync(join(world.dir, 'blocked')), 30_000, "run a's deploy script to start");
    const sockets = readdirSync(controlDir);
    expect(sockets).toHaveLength(1);
    expect(await sshd.acceptedConnections()).toBe(1);

    const second = await world.cli(['run', 'b']);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(world.state('b')).toMatchObject({ deployedSha: await b.head(), lastResult: 'deployed' });
    // b went over a's master (no second login), and a's master is still there and answers.
    expect(await sshd.acceptedConnections()).toBe(1);
    expect(readdirSync(controlDir)).toEqual(sockets);
    const check = await execa('ssh', ['-o', `ControlPath=${join(controlDir, sockets[0] ?? '')}`, '-O', 'check', 'pollpray-mux'], { reject: false });
    expect(check.exitCode, check.stderr).toBe(0);

    writeFileSync(join(world.dir, 'go'), '');
    expect((await first).exitCode).toBe(0);
    // The run that opened it closes it.
    expect(readdirSync(controlDir)).toEqual([]);
  });

  it('#2 auth refused: no prompt (BatchMode), a clear message, recovers once the key is authorized again', async () => {
    const s = await sshWorld();
    expect((await s.world.cli(['run'])).exitCode).toBe(0);
    const head = await s.origin.head();
    s.sshd.deauthorize();
    const next = await s.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const r = await s.world.cli(['run'], { timeoutMs: 30_000 });
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', /authentication refused/);
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
    expectOneLineError(r.stderr, 'app', /host key unknown: .*trust-host/);
    expect(readFileSync(empty, 'utf8')).toBe('');
    expect(s.world.state('app')?.deployedSha ?? null).toBeNull();

    s.write();
    expect((await s.world.cli(['run'])).exitCode).toBe(0);
    expect(s.live()).toBe(short(await s.origin.head()));
  });

  it('#73 an ssh LFS server on another host than the repo (lfs: { url: ssh://… }): doctor and test-ssh fail its unpinned host key with the fix; trust-host <host>:<port> pins it in the target\'s known_hosts', async () => {
    const s = await sshWorld();
    const kh = join(s.world.dir, 'known_hosts');
    writeFileSync(kh, readFileSync(s.sshd.knownHostsFile, 'utf8'), { mode: 0o600 });
    // The same sshd under another name: ssh looks its host key up as [localhost]:PORT.
    const lfsHost = `[localhost]:${s.sshd.port}`;
    s.write({ known_hosts: kh }, { lfs: { url: `ssh://${s.sshd.user}@localhost:${s.sshd.port}${s.origin.bare}` } });
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

    const d = await s.world.cli(['doctor']);
    expect(d.exitCode).toBe(1);
    expect(d.stdout).toMatch(new RegExp(`^ok +known_hosts \\(app\\) +\\[127\\.0\\.0\\.1\\]:${s.sshd.port} is pinned`, 'm'));
    expect(d.stdout).toMatch(new RegExp(`^FAIL +known_hosts \\(app lfs\\) +LFS server: ${esc(lfsHost)} is not in ${esc(kh)}: ssh will refuse to connect \\(fix: ssh-keyscan -p ${s.sshd.port} localhost >> ${esc(kh)}`, 'm'));
    const t = await s.world.cli(['test-ssh']);
    expect(t.exitCode).toBe(1);
    expect(t.stdout).toMatch(/^app: ok {3}branch: /m);
    expect(t.stdout).toMatch(new RegExp(`^app: FAIL lfs known_hosts: LFS server: host key unknown: ${esc(lfsHost)} is not pinned in ${esc(kh)} \\(fix: pollpray trust-host localhost:${s.sshd.port} `, 'm'));

    // The fix: trust-host names the LFS host, and pins it where the target's ssh looks.
    const trust = await s.world.cli(['trust-host', `localhost:${s.sshd.port}`, '--yes']);
    expect(trust.exitCode, trust.stderr).toBe(0);
    expect(trust.stdout).toContain(`${kh}: added`);
    expect(readFileSync(kh, 'utf8')).toContain(`${lfsHost} `);
    const after = await s.world.cli(['doctor']);
    expect(after.stdout).toMatch(new RegExp(`^ok +known_hosts \\(app lfs\\) +LFS server: ${esc(lfsHost)} is pinned in ${esc(kh)}`, 'm'));
    const t2 = await s.world.cli(['test-ssh']);
    expect(t2.exitCode, t2.stdout).toBe(0);
    expect(t2.stdout).toMatch(new RegExp(`^app: ok {3}lfs known_hosts: LFS server: ${esc(lfsHost)} pinned in ${esc(kh)}`, 'm'));
  });

  it('#73 an ssh LFS server on another host whose own IdentityFile (in the target\'s ssh.config) is mode 0644: doctor and test-ssh fail that key with chmod 600; ok once fixed', async () => {
    const s = await sshWorld();
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const lfsKey = join(s.world.dir, 'lfs_ed25519');
    copyFileSync(s.sshd.clientKey, lfsKey);
    chmodSync(lfsKey, 0o644);
    const kh = join(s.world.dir, 'known_hosts');
    writeFileSync(kh, `${s.sshd.knownHostsLine}\n${s.sshd.knownHostsLine.replace('[127.0.0.1]', '[localhost]')}\n`, { mode: 0o600 });
    const sshConfig = join(s.world.dir, 'ssh_config');
    // The scp-like form: the LFS host's port and key come from the target's ssh.config.
    writeFileSync(sshConfig, `Host 127.0.0.1\n  IdentityFile ${s.sshd.clientKey}\nHost localhost\n  Port ${s.sshd.port}\n  IdentityFile ${lfsKey}\n`, { mode: 0o600 });
    s.write({ key: undefined, known_hosts: kh, config: sshConfig }, { lfs: { url: `${s.sshd.user}@localhost:${s.origin.bare}` } });

    const d = await s.world.cli(['doctor']);
    expect(d.exitCode).toBe(1);
    expect(d.stdout).toMatch(new RegExp(`^ok +key \\(app\\) +${esc(s.sshd.clientKey)}`, 'm'));
    expect(d.stdout).toMatch(new RegExp(`^FAIL +key \\(app lfs\\) +${esc(lfsKey)} is mode 0644.*\\(fix: chmod 600 ${esc(lfsKey)}\\)$`, 'm'));
    expect(d.stdout).toMatch(/^ok +known_hosts \(app lfs\) +LFS server: \[localhost\]:\d+ is pinned/m);
    const t = await s.world.cli(['test-ssh']);
    expect(t.exitCode).toBe(1);
    expect(t.stdout).toMatch(/^app: ok {3}branch: /m);
    expect(t.stdout).toMatch(new RegExp(`^app: FAIL lfs key: ${esc(lfsKey)} is mode 0644.*\\(fix: chmod 600 ${esc(lfsKey)}\\)$`, 'm'));

    chmodSync(lfsKey, 0o600);
    expect((await s.world.cli(['doctor'])).stdout).toMatch(new RegExp(`^ok +key \\(app lfs\\) +${esc(lfsKey)}`, 'm'));
    const t2 = await s.world.cli(['test-ssh']);
    expect(t2.exitCode, t2.stdout).toBe(0);
  });

  it('#73 a repo reached without ssh (file://, https) whose lfs: { url } is ssh: test-ssh and doctor check that host\'s host key too', async () => {
    const s = await sshWorld();
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    s.write({}, { repo: s.origin.url, lfs: { url: `ssh://${s.sshd.user}@localhost:${s.sshd.port}${s.origin.bare}` } });
    const lfsHost = `[localhost]:${s.sshd.port}`;
    const t = await s.world.cli(['test-ssh']);
    expect(t.exitCode).toBe(1);
    expect(t.stdout).toMatch(/^app: ok {3}branch: /m);
    expect(t.stdout).toMatch(new RegExp(`^app: FAIL lfs known_hosts: LFS server: host key unknown: ${esc(lfsHost)} is not pinned in ${esc(s.sshd.knownHostsFile)} \\(fix: pollpray trust-host localhost:${s.sshd.port} `, 'm'));
    const d = await s.world.cli(['doctor']);
    expect(d.exitCode).toBe(1);
    expect(d.stdout).toMatch(new RegExp(`^FAIL +known_hosts \\(app lfs\\) +LFS server: ${esc(lfsHost)} is not in ${esc(s.sshd.knownHostsFile)}`, 'm'));
  });
  it('#74 an ssh.config others can write, with a Match exec line: doctor fails the file and runs nothing from it (before: its known_hosts check ran ssh -G on it, which runs Match exec)', async () => {
    const s = await sshWorld();
    const marker = join(s.world.dir, 'match-exec-ran');
    const sshConfig = join(s.world.dir, 'ssh_config');
    writeFileSync(sshConfig, `Match exec "touch ${marker}"\n  Port ${s.sshd.port}\n`);
    chmodSync(sshConfig, 0o666);
    s.write({ config: sshConfig }, { lfs: { url: `ssh://${s.sshd.user}@localhost:${s.sshd.port}${s.origin.bare}` } });

    const d = await s.world.cli(['doctor']);
    expect(d.exitCode).toBe(1);
    expect(d.stdout).toMatch(/^FAIL +\S+ \(targets\.app\.ssh\.config\) .*writable/m);
    expect(existsSync(marker)).toBe(false);
    expect((await s.world.cli(['test-ssh'])).exitCode).toBe(1);
    expect(existsSync(marker)).toBe(false);
  });

  it('#101 a known_hosts in a state dir other local users can write: doctor fails it with the fix and neither reads it nor starts ssh with it (before: a key planted there showed as pinned, a FIFO hung the check)', async () => {
    const s = await sshWorld();
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // The default known_hosts (state_dir/known_hosts), with the key "pinned" by whoever could write there.
    s.write({ known_hosts: undefined });
    mkdirSync(s.world.stateDir, { recursive: true });
    const kh = join(s.world.stateDir, 'known_hosts');
    writeFileSync(kh, readFileSync(s.sshd.knownHostsFile, 'utf8'), { mode: 0o600 });
    chmodSync(s.world.stateDir, 0o777);

    const d = await s.world.cli(['doctor']);
    expect(d.exitCode).toBe(1);
    expect(d.stdout).toMatch(new RegExp(`^FAIL +known_hosts \\(app\\) +${esc(kh)} is in ${esc(s.world.stateDir)}, which is group- and world-writable \\(mode 0777\\): any local user could replace ${esc(kh)} and make ssh trust their host key \\(fix: chmod go-w ${esc(s.world.stateDir)}\\)$`, 'm'));
    expect(d.stdout).not.toMatch(/^ok +known_hosts/m);
    expect(d.stdout).not.toMatch(/^ok +app: (connection|authentication)/m);
    expect(await s.sshd.acceptedConnections()).toBe(0);
    const t = await s.world.cli(['test-ssh']);
    expect(t.exitCode).toBe(1);
    expect(t.stdout).toMatch(/^app: FAIL known_hosts: .*writable/m);
    // trust-host refuses it too (row 55), before scanning or writing anything.
    const planted = readFileSync(kh, 'utf8');
    const th = await s.world.cli(['trust-host', `127.0.0.1:${s.sshd.port}`, '--yes']);
    expect(th.exitCode).toBe(2);
    expect(th.stderr).toMatch(new RegExp(`^pollpray: .*${esc(s.world.stateDir)}.* \\(fix: chmod go-w ${esc(s.world.stateDir)}\\)$`));
    expect(readFileSync(kh, 'utf8')).toBe(planted);
    expect(await s.sshd.acceptedConnections()).toBe(0);

    // A FIFO planted in its place is never opened: doctor ends, naming the same problem.
    rmSync(kh);
    execFileSync('mkfifo', [kh]);
    const started = Date.now();
    const f = await s.world.cli(['doctor']);
    expect(f.exitCode).toBe(1);
    expect(f.stdout).toMatch(/^FAIL +known_hosts \(app\) .*writable/m);
    expect(Date.now() - started).toBeLessThan(9_000);

    // The fix it names: the next doctor passes the host key.
    rmSync(kh);
    writeFileSync(kh, readFileSync(s.sshd.knownHostsFile, 'utf8'), { mode: 0o600 });
    chmodSync(s.world.stateDir, 0o700);
    const ok = await s.world.cli(['doctor']);
    expect(ok.stdout).toMatch(new RegExp(`^ok +known_hosts \\(app\\) +.* is pinned in ${esc(kh)}`, 'm'));
  });

  it('#75 run: an ssh LFS server whose host key is not pinned fails as "host key unknown" naming that host and trust-host, not as a failed LFS fetch', async () => {
    const s = await sshWorld();
    const kh = join(s.world.dir, 'known_hosts');
    writeFileSync(kh, readFileSync(s.sshd.knownHostsFile, 'utf8'), { mode: 0o600 });
    // A commit using LFS (a pointer file and the filter in .gitattributes), its objects on the LFS server only.
    const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${'a'.repeat(64)}\nsize 12\n`;
    const head = await s.origin.commit({ '.gitattributes': '*.bin filter=lfs diff=lfs merge=lfs -text\n', 'big.bin': pointer }, 'LFS file');
    // The same sshd under another name: ssh looks its host key up as [localhost]:PORT, which is
    // not pinned. Before, git-lfs's ssh went over the repo host's shared connection (its
    // ControlPath), so it never reached the LFS host, nor checked that host's key.
    s.write({ known_hosts: kh }, { lfs: { url: `ssh://${s.sshd.user}@localhost:${s.sshd.port}${s.origin.bare}` } });
    const r = await s.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', new RegExp(`Git LFS server localhost:${s.sshd.port}: host key unknown: .*\\(fix: run pollpray trust-host localhost:${s.sshd.port} `));
    expect(readFileSync(kh, 'utf8')).not.toContain('[localhost]');
    expect(s.world.state('app')?.deployedSha ?? null).toBeNull();
    expect(head).toMatch(/^[0-9a-f]{40}$/);
  });

  it('#77 a HostKeyAlias in the target\'s ssh.config: doctor and trust-host look the host key up, and pin it, under that name as ssh does, so they agree with run and test-ssh', async () => {
    const s = await sshWorld();
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const alias = 'app-git-host';
    const sshConfig = join(s.world.dir, 'ssh_config');
    writeFileSync(sshConfig, `Host 127.0.0.1\n  HostKeyAlias ${alias}\n`, { mode: 0o600 });
    const kh = join(s.world.dir, 'known_hosts');
    const plainOnly = () => writeFileSync(kh, `${s.sshd.knownHostsLine}\n`, { mode: 0o600 });
    // Pinned under the plain [host]:port only: ssh looks the key up under the alias and refuses.
    plainOnly();
    s.write({ known_hosts: kh, config: sshConfig });
    const r = await s.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'app', new RegExp(`host key unknown: ${alias} .*trust-host ${alias} `));
    const d = await s.world.cli(['doctor']);
    expect(d.exitCode).toBe(1);
    expect(d.stdout).toMatch(new RegExp(`^FAIL +known_hosts \\(app\\) +${alias} is not in ${esc(kh)}: ssh will refuse to connect \\(fix: pollpray trust-host 127\\.0\\.0\\.1:${s.sshd.port}\\)`, 'm'));
    const t = await s.world.cli(['test-ssh']);
    expect(t.exitCode).toBe(1);
    expect(t.stdout).toMatch(new RegExp(`^app: FAIL known_hosts: host key unknown: ${alias} is not pinned in ${esc(kh)}`, 'm'));

    // doctor's and test-ssh's fix: trust-host <host>:<port> pins the key under the alias.
    const trust = await s.world.cli(['trust-host', `127.0.0.1:${s.sshd.port}`, '--yes']);
    expect(trust.exitCode, trust.stderr).toBe(0);
    expect(trust.stdout).toContain(`${kh}: added 1 (${alias})`);
    expect(readFileSync(kh, 'utf8')).toMatch(new RegExp(`^${alias} ssh-ed25519 `, 'm'));
    const ran = await s.world.cli(['run']);
    expect(ran.exitCode, ran.stderr).toBe(0);
    expect((await s.world.cli(['doctor'])).stdout).toMatch(new RegExp(`^ok +known_hosts \\(app\\) +${alias} is pinned in ${esc(kh)}`, 'm'));
    const t2 = await s.world.cli(['test-ssh']);
    expect(t2.exitCode, t2.stdout).toBe(0);

    // Pinned under the alias only (the reverse): doctor agrees with run that it is pinned.
    writeFileSync(kh, `${alias} ${s.sshd.hostKeyPub}\n`, { mode: 0o600 });
    expect((await s.world.cli(['doctor'])).stdout).toMatch(new RegExp(`^ok +known_hosts \\(app\\) +${alias} is pinned`, 'm'));

    // run's fix, word for word: trust-host <alias> scans the host the alias stands for.
    plainOnly();
    const next = await s.origin.commit({ 'v.txt': '2\n' }, 'v2');
    expect((await s.world.cli(['run'])).exitCode).toBe(1);
    const byAlias = await s.world.cli(['trust-host', alias, '--yes']);
    expect(byAlias.exitCode, byAlias.stderr).toBe(0);
    expect(readFileSync(kh, 'utf8')).toMatch(new RegExp(`^${alias} ssh-ed25519 `, 'm'));
    expect((await s.world.cli(['run'])).exitCode).toBe(0);
    expect(s.live()).toBe(short(next));
  });

  it('#78 an ssh LFS server on another host that refuses the target\'s key: test-ssh and doctor connect to it as git-lfs will and fail naming that host and the key (before: ok); its changed host key too; ok once the key is authorised', async () => {
    const s = await sshWorld();
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // The LFS server: a second sshd (its own port and host key) whose only command stands in for git-lfs-authenticate.
    const answer = s.world.script('lfs-authenticate', [
      'case "$SSH_ORIGINAL_COMMAND" in',
      `  "git-lfs-authenticate /srv/lfs/app.git download") echo '{"href":"https://lfs.invalid/app.git/info/lfs","header":{"Authorization":"RemoteAuth lfs-token-0451"}}' ;;`,
      '  *) echo "unexpected: $SSH_ORIGINAL_COMMAND" >&2; exit 1 ;;',
      'esac',
    ].join('\n'));
    const lfs = await startSshd({ authorizeClient: false, extraConfig: [`ForceCommand ${answer}`] });
    const kh = join(s.world.dir, 'known_hosts');
    writeFileSync(kh, `${s.sshd.knownHostsLine}\n${lfs.knownHostsLine}\n`, { mode: 0o600 });
    const where = `${lfs.user}@127.0.0.1:${lfs.port}`;
    s.write({ known_hosts: kh }, { lfs: { url: `ssh://${lfs.user}@127.0.0.1:${lfs.port}/srv/lfs/app.git` } });

    const t = await s.world.cli(['test-ssh']);
    expect(t.exitCode, t.stdout).toBe(1);
    expect(t.stdout).toMatch(/^app: ok {3}branch: /m);
    expect(t.stdout).toMatch(new RegExp(`^app: ok {3}lfs known_hosts: `, 'm'));
    expect(t.stdout).toMatch(new RegExp(`^app: FAIL lfs authentication: LFS server ${esc(where)}: authentication refused: it did not accept ${esc(s.sshd.clientKey)} .*\\(fix: add ${esc(s.sshd.clientKeyPub)} `, 'm'));
    expect(await lfs.connections()).toBeGreaterThan(0);
    const d = await s.world.cli(['doctor']);
    expect(d.exitCode).toBe(1);
    expect(d.stdout).toMatch(new RegExp(`^FAIL +app: lfs authentication +LFS server ${esc(where)}: authentication refused`, 'm'));

    lfs.authorize(s.sshd.clientKeyPub);
    const t2 = await s.world.cli(['test-ssh']);
    expect(t2.exitCode, t2.stdout).toBe(0);
    expect(t2.stdout).toMatch(new RegExp(`^app: ok {3}lfs connection: reached ${esc(where)}`, 'm'));
    expect(t2.stdout).toMatch(/^app: ok {3}lfs server: git-lfs-authenticate answered for \/srv\/lfs\/app\.git$/m);
    // Its answer holds a token: never shown, as text, as JSON or in the log.
    const json = await s.world.cli(['test-ssh', '--json']);
    for (const text of [t2.stdout, json.stdout, s.world.logText()]) expect(text).not.toMatch(/lfs-token-0451|lfs\.invalid/);

    // Its host key changes: still pinned by name, so only a real connection sees it.
    await lfs.regenerateHostKey();
    const t3 = await s.world.cli(['test-ssh']);
    expect(t3.exitCode).toBe(1);
    expect(t3.stdout).toMatch(new RegExp(`^app: FAIL lfs connection: LFS server ${esc(where)}: HOST KEY CHANGED .*\\(fix: .*pollpray trust-host 127\\.0\\.0\\.1:${lfs.port} --replace\\)$`, 'm'));

    // The LFS host is down: the repo is still reached, the LFS host is named.
    await lfs.stop();
    const t4 = await s.world.cli(['test-ssh']);
    expect(t4.exitCode).toBe(1);
    expect(t4.stdout).toMatch(/^app: ok {3}branch: /m);
    expect(t4.stdout).toMatch(new RegExp(`^app: FAIL lfs connection: LFS server ${esc(where)}: host unreachable: connection refused`, 'm'));
  });
});

describe.skipIf(requireBinary(SSHD, 'openssh-server') || requireBinary('ssh', 'openssh-client') || requireBinary('git-lfs', 'git-lfs'))('Git LFS from a forge over ssh', { timeout: 180_000 }, () => {
  it('#75 an scp-style LFS URL (user@host:path) on another host, its port from ssh.port: the host key error names that port', async () => {
    const f = await lfsForge('in-place');
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    await f.commitLfs('second LFS content\n');
    // The same sshd as `localhost`, not pinned: ssh looks it up as [localhost]:<ssh.port>.
    f.write({ lfs: { url: `${f.sshd.user}@localhost:acme/app.git` } });
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    // Before: "Git LFS server localhost: …", as if on port 22.
    expectOneLineError(r.stderr, 'app', new RegExp(`Git LFS server localhost:${f.sshd.port}: host key unknown: .*\\(fix: run pollpray trust-host localhost:${f.sshd.port} `));
  });

  it('#80 the forge\'s git-lfs-authenticate hands out a token its LFS server refuses (expired, revoked), or refuses itself (LFS off): one line naming git-lfs-authenticate\'s host and the fix, not counted against the commit, the token shown nowhere; the next run after the fix deploys it', async () => {
    const f = await lfsForge('in-place');
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const deployed = await f.origin.head();
    f.tokens.accepted = `tok-${randomBytes(12).toString('hex')}`;
    const next = await f.commitLfs('third LFS content\n');
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(1);
    // Before: "fetching the Git LFS objects of … failed: error: failed to fetch some objects from
    // 'https://127.0.0.1/acme/app.git'", a URL git-lfs never contacted, counted against the commit.
    expectOneLineError(r.stderr, 'app', new RegExp(`the Git LFS server refused the credentials git-lfs-authenticate on 127\\.0\\.0\\.1:${f.sshd.port} gave for acme/app\\.git \\(the LFS objects of ${short(next)}\\): .*Authentication required.* \\(fix: check that the deploy key may read acme/app\\.git's Git LFS objects on 127\\.0\\.0\\.1:${f.sshd.port} `));
    expect(r.stderr).not.toMatch(/failed to fetch some objects/);
    expect(readFileSync(join(f.tree(), 'big.bin'), 'utf8')).toBe('first LFS content\n');
    expectState(f.world, 'app', { deployedSha: deployed, lastFault: 'host' });
    const status = await f.world.cli(['status', '--json']);
    expect(everythingShown(f, [r.stdout, r.stderr, status.stdout, status.stderr])).not.toContain(f.tokens.handed);

    // The forge's LFS accepts its tokens again: the next run deploys the commit, without --force.
    f.tokens.accepted = f.tokens.handed;
    const again = await f.world.cli(['run']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(readFileSync(join(f.tree(), 'big.bin'), 'utf8')).toBe('third LFS content\n');
    expectState(f.world, 'app', { deployedSha: next });

    // The forge turns Git LFS off for the repository: its git-lfs-authenticate refuses, in its own words.
    f.disableLfs();
    const fourth = await f.commitLfs('fourth LFS content\n');
    const off = await f.world.cli(['run']);
    expect(off.exitCode).toBe(1);
    expectOneLineError(off.stderr, 'app', new RegExp(`git-lfs-authenticate on 127\\.0\\.0\\.1:${f.sshd.port} refused acme/app\\.git download \\(exit 1: Git LFS is not enabled for this repository\\), so the LFS objects of ${short(fourth)} cannot be fetched \\(fix: the Git LFS server of 127\\.0\\.0\\.1:${f.sshd.port} must serve acme/app\\.git to this deploy key: enable Git LFS`));
    expect(off.stderr).not.toMatch(/failed to fetch some objects/);
    expect(readFileSync(join(f.tree(), 'big.bin'), 'utf8')).toBe('third LFS content\n');
    expectState(f.world, 'app', { deployedSha: next, lastFault: 'host' });
  });
});
