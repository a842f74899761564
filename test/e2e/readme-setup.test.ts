/**
 * The README's "Set up a real target", in its order, on a host without systemd: root
 * writes the config with init --group, the pollpray user validates it, pins the host key
 * with trust-host and checks it with test-ssh, root installs the generated sudo rule,
 * doctor finds nothing failing, and the first run deploys over ssh and restarts the
 * program through supervisord. Paths live under a temp "root" instead of /etc and /var,
 * and the user is the sudo fixture's; the commands are the README's.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { stringify } from 'yaml';
import { makeOrigin } from '../helpers/origin.js';
import { BIN } from '../helpers/pollpray-cli.js';
import { requireBinary } from '../helpers/require-env.js';
import { SSHD, startSshd } from '../helpers/sshd.js';
import { makeSudoFixture, requireSudoFixture, SUDOERS_DIR } from '../helpers/sudo-user.js';
import { requireSupervisord, startSupervisord } from '../helpers/supervisord.js';

describe.skipIf(requireSudoFixture() || requireSupervisord() || requireBinary(SSHD, 'openssh-server'))('the README set-up path, without systemd', { timeout: 120_000 }, () => {
  it('init --group, validate, trust-host, test-ssh, sudoers --install, doctor, run: deployed over ssh and restarted by supervisord', async () => {
    const [sudo, sshd, origin, sv] = await Promise.all([makeSudoFixture(), startSshd(), makeOrigin(), startSupervisord(['todo'])]);
    const root = mkdtempSync(join(tmpdir(), 'pollpray-readme-'));
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    chmodSync(root, 0o755);
    const own = (path: string, mode: number) => {
      mkdirSync(path, { recursive: true, mode });
      chownSync(path, sudo.uid, sudo.gid);
    };
    // Step 2: /etc stays root's; keys, logs, state and the web root are the user's.
    mkdirSync(join(root, 'etc'), { mode: 0o755 });
    const etc = join(root, 'etc', 'pollpray');
    const state = join(root, 'var', 'lib', 'pollpray');
    const logs = join(root, 'var', 'log', 'pollpray');
    const www = join(root, 'var', 'www', 'projects');
    for (const d of [join(root, 'var'), join(root, 'var', 'lib'), join(root, 'var', 'log'), join(root, 'var', 'www')]) mkdirSync(d, { mode: 0o755 });
    own(state, 0o700);
    own(logs, 0o750);
    own(www, 0o755);

    // Step 3: root writes the config with init --group, then edits it.
    const config = join(etc, 'config.yaml');
    execFileSync('node', [BIN, 'init', '--group', sudo.user, config]);
    own(join(etc, 'keys'), 0o700);
    // Step 4 (the key): the fixture sshd's authorized client key, as the user's deploy key.
    const key = join(etc, 'keys', 'todo_ed25519');
    copyFileSync(sshd.clientKey, key);
    chownSync(key, sudo.uid, sudo.gid);
    chmodSync(key, 0o600);
    writeFileSync(
      config,
      stringify({
        state_dir: state,
        log: { dir: logs },
        service_manager: 'supervisorctl',
        supervisorctl: sv.supervisorctl,
        supervisor_config: sv.config,
        targets: { todo: { repo: sshd.repoUrl(origin.bare), ssh: { key }, branch: 'main', path: join(www, 'todo_django'), restart: ['todo'] } },
      }),
    );
    // The origin stays root's: sshd's login user (root) serves it.
    const head = await origin.head();
    const asUser = (args: string[]) => sudo.runAs(['node', BIN, '-c', config, ...args], { cwd: root, timeoutMs: 60_000 });

    const validate = await asUser(['validate']);
    expect(validate.exitCode, validate.stderr).toBe(0);

    // Step 5: pin the host key as the user, into <state_dir>/known_hosts, then test-ssh.
    const trust = await asUser(['trust-host', `127.0.0.1:${sshd.port}`, '--yes']);
    expect(trust.exitCode, `${trust.stdout}\n${trust.stderr}`).toBe(0);
    const ssh = await asUser(['test-ssh']);
    expect(ssh.exitCode, ssh.stdout).toBe(0);

    // Step 6: the generated rule, installed by root.
    const dest = join(SUDOERS_DIR, `pollpray-test-${sudo.id}-readme`);
    onTestFinished(() => rmSync(dest, { force: true }));
    await sudo.removeRule();
    execFileSync('node', [BIN, 'sudoers', '--install', '--user', sudo.user, '--config', config, '--destination', dest]);

    // Step 7: doctor finds nothing failing (no schedule yet: a warning).
    const doctor = await asUser(['doctor']);
    expect(doctor.stdout).not.toMatch(/^FAIL/m);
    expect(doctor.exitCode, doctor.stdout).toBe(0);

    // Step 8: the first run deploys and restarts the program.
    const before = await sv.pid('todo');
    const run = await asUser(['run']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(await sv.pid('todo')).not.toBe(before);
    const status = await asUser(['status', '--json']);
    expect(status.stdout).toContain(head);
    const logged = readdirSync(logs)
      .filter((f) => /^pollpray-.*\.log$/.test(f))
      .map((f) => readFileSync(join(logs, f), 'utf8'))
      .join('');
    expect(logged).toMatch(/\[todo\] @\w+ restart: restarted todo/);
  });
});
