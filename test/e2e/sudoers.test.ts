import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeSudoFixture, requireSudoFixture, SUDOERS_DIR } from '../helpers/sudo-user.js';
import { makeUserWorld } from '../helpers/user-world.js';

function visudoAccepts(text: string): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-visudo-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'dropin');
  writeFileSync(file, text, { mode: 0o440 });
  try {
    return { ok: true, output: execFileSync('visudo', ['-cf', file], { encoding: 'utf8' }) };
  } catch (err) {
    return { ok: false, output: String((err as { stderr?: string }).stderr ?? err) };
  }
}

describe.skipIf(requireSudoFixture())('pollpray sudoers', () => {
  it('prints one NOPASSWD line per allowlisted unit over all targets, and visudo -cf accepts it', async () => {
    const sudo = await makeSudoFixture();
    const { world, cli, writeConfig } = await makeUserWorld(sudo);
    await writeConfig({ restart: ['app.service', 'worker@a:b.service'] });
    const config = readFileSync(world.configFile, 'utf8').replace(
      /^targets:\n/m,
      `targets:\n  second:\n    repo: file:///nowhere.git\n    path: ${world.dir}/www/second\n    restart: [app.service, web.socket]\n`,
    );
    writeFileSync(world.configFile, config);
    await sudo.giveToUser(world.dir);

    const r = await cli(['sudoers']);
    expect(r.exitCode, r.stderr).toBe(0);
    const rules = r.stdout.split('\n').filter((l) => !l.startsWith('#') && l.trim());
    expect(rules).toEqual([
      `pollpray-test ALL=(root) NOPASSWD: ${sudo.systemctl} restart app.service`,
      `pollpray-test ALL=(root) NOPASSWD: ${sudo.systemctl} restart web.socket`,
      `pollpray-test ALL=(root) NOPASSWD: ${sudo.systemctl} restart worker@a\\:b.service`,
    ]);
    expect(visudoAccepts(`${r.stdout}\n`)).toMatchObject({ ok: true });

    const group = await cli(['sudoers', '--group', 'deployers']);
    expect(group.stdout).toContain(`%deployers ALL=(root) NOPASSWD: ${sudo.systemctl} restart app.service`);
    expect(visudoAccepts(`${group.stdout}\n`)).toMatchObject({ ok: true });
  });

  it('--install as an unprivileged user is refused with the command to run instead', async () => {
    const sudo = await makeSudoFixture();
    const { cli } = await makeUserWorld(sudo);
    const r = await cli(['sudoers', '--install']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('sudoers --install writes /etc/sudoers.d and needs root');
    expect(r.stderr).toContain('sudo pollpray sudoers --install --user pollpray-test');
  });

  it('--install writes a 0440 drop-in atomically that sudo then uses for the restart', async () => {
    const sudo = await makeSudoFixture();
    const { world, cli } = await makeUserWorld(sudo);
    // A name sudo reads (no dot), unique to this fixture; never /etc/sudoers.d/pollpray itself.
    const dest = join(SUDOERS_DIR, `pollpray-test-${sudo.id}-generated`);
    onTestFinished(() => rmSync(dest, { force: true }));
    const install = execFileSync('node', [join(import.meta.dirname, '../../bin/pollpray.js'), '-c', world.configFile, 'sudoers', '--install', '--user', sudo.user, '--destination', dest], {
      encoding: 'utf8',
      env: { ...process.env, HOME: world.env.HOME },
    });
    expect(install).toContain(`installed ${dest} (mode 0440, checked with visudo -cf)`);
    const st = statSync(dest);
    expect(st.mode & 0o777).toBe(0o440);
    expect(st.uid).toBe(0);
    expect(readdirSync(SUDOERS_DIR).filter((n) => n.includes(`${sudo.id}-generated.tmp`))).toEqual([]);

    // Only the generated rule is left: the fixture's own is gone.
    await sudo.removeRule();
    const r = await cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await sudo.calls()).toEqual(['restart app.service']);
  });
});
