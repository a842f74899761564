import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it, onTestFinished } from 'vitest';
import { cronDaemonPid } from '../../src/schedule/cron-daemon.js';
import { needs, requireBinary } from '../helpers/require-env.js';
import { BIN } from '../helpers/pollpray-cli.js';
import { makeSudoFixture, requireSudoFixture } from '../helpers/sudo-user.js';
import { makeUserWorld } from '../helpers/user-world.js';

// The crontab tests edit the fixture user's own crontab (never root's), so they need root to become that user.
describe.skipIf(requireSudoFixture() || requireBinary('crontab', 'cron'))('pollpray cron, in the running user\'s crontab', () => {
  it('install twice leaves one line, keeps the other lines, and remove takes only its own', async () => {
    const sudo = await makeSudoFixture();
    const { world, cli, head } = await makeUserWorld(sudo, { restart: [] });
    const crontab = (args: string[], input?: string) => sudo.runAs(['crontab', ...args], { input });
    onTestFinished(async () => {
      await crontab(['-r']);
    });
    await crontab(['-'], 'MAILTO=ops@example.com\n0 3 * * * /usr/bin/true nightly\n');

    const first = await cli(['cron', 'install']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^installed: /);
    const again = await cli(['cron', 'install']);
    expect(again.stdout).toMatch(/^already installed: /);

    const installed = (await crontab(['-l'])).stdout.split('\n').filter(Boolean);
    const ours = installed.filter((l) => l.includes('pollpray-managed'));
    expect(installed.slice(0, 2)).toEqual(['MAILTO=ops@example.com', '0 3 * * * /usr/bin/true nightly']);
    expect(ours).toEqual([
      `*/5 * * * * PATH=/usr/local/bin:/usr/bin:/bin ${process.execPath} ${BIN} run --config ${world.configFile} >> ${world.logDir}/cron.log # pollpray-managed: ${world.configFile}`,
    ]);

    // What cron would run: the line after its five schedule fields, through /bin/sh, as the user.
    const command = (ours[0] ?? '').split(' ').slice(5).join(' ');
    const ran = await sudo.runAs(['/bin/sh', '-c', command], { env: {} });
    expect(ran.exitCode, ran.stderr).toBe(0);
    expect(ran.stderr).toBe('');
    expect(world.state('app')).toMatchObject({ deployedSha: head, lastResult: 'deployed' });

    const changed = await cli(['cron', 'install', '--every', '15m']);
    expect(changed.stdout).toMatch(/^installed: \*\/15 \* \* \* \* /);
    expect((await crontab(['-l'])).stdout.split('\n').filter((l) => l.includes('pollpray-managed'))).toHaveLength(1);

    const removed = await cli(['cron', 'remove']);
    expect(removed.stdout).toMatch(/^removed: \*\/15 /);
    expect((await crontab(['-l'])).stdout).toBe('MAILTO=ops@example.com\n0 3 * * * /usr/bin/true nightly');
    expect((await cli(['cron', 'remove'])).stdout).toBe('no pollpray line for this config in your crontab');
  });

  it('refuses an interval cron cannot express, and changes nothing', async () => {
    const sudo = await makeSudoFixture();
    const { cli } = await makeUserWorld(sudo, { restart: [] });
    const r = await cli(['cron', 'install', '--every', '7m']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--every 7m cannot be written as a cron schedule');
    expect((await sudo.runAs(['crontab', '-l'])).stdout).not.toContain('pollpray-managed');
  });

  it('doctor warns that nothing runs when a crontab line runs pollpray but no cron daemon runs, and is ok once one does', async (ctx) => {
    const running = cronDaemonPid();
    if (needs('no cron daemon running', running === undefined, `cron already runs here (PID ${running}): the no-daemon case cannot be shown`)) ctx.skip();
    const sudo = await makeSudoFixture();
    const { cli } = await makeUserWorld(sudo, { restart: [] });
    onTestFinished(async () => {
      await sudo.runAs(['crontab', '-r']);
    });
    expect((await cli(['cron', 'install'])).exitCode).toBe(0);
    const none = await cli(['doctor']);
    expect(none.stdout).toMatch(/WARN\s+schedule\s+crontab: .* but no cron daemon runs on this host, so the line never runs \(fix: start cron/);

    // A process named cron (a copy of sleep, so it runs no crontab), started and ended here by PID.
    const dir = mkdtempSync(join(tmpdir(), 'pollpray-crond-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    copyFileSync('/bin/sleep', join(dir, 'cron'));
    chmodSync(join(dir, 'cron'), 0o755);
    const daemon = execa(join(dir, 'cron'), ['60'], { reject: false });
    onTestFinished(async () => {
      daemon.kill('SIGKILL');
      await daemon;
    });
    const ok = await cli(['doctor']);
    expect(ok.stdout).toMatch(new RegExp(`ok\\s+schedule\\s+crontab: .*\\(cron runs, PID ${daemon.pid}\\)`));
  });
});
