/**
 * The README's set-up path: root writes the config with `init`, the unprivileged user
 * pollpray runs as must then be able to read it.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BIN } from '../helpers/pollpray-cli.js';
import { makeSudoFixture, requireSudoFixture } from '../helpers/sudo-user.js';

function etcDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'pollpray-init-'));
  chmodSync(root, 0o755); // the stand-in for /: anyone may traverse it, and its etc
  mkdirSync(join(root, 'etc'), { mode: 0o755 });
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

describe.skipIf(requireSudoFixture())('pollpray init as root, read by the pollpray user', () => {
  it('init --group gives the new directory and the 0640 config to that group, so the user can validate it', async () => {
    const sudo = await makeSudoFixture();
    const file = join(etcDir(), 'etc', 'pollpray', 'config.yaml');
    const r = await execa('node', [BIN, 'init', '--group', sudo.user, file], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`wrote ${file} (mode 0640, group ${sudo.user})`);
    expect(statSync(file)).toMatchObject({ uid: 0, gid: sudo.gid });
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(statSync(join(file, '..')).gid).toBe(sudo.gid);
    const v = await sudo.runAs(['node', BIN, 'validate', '-c', file]);
    // The user can read it. validate also checks the host as that user, so what is left
    // are the starter's placeholders (its deploy script and /var/www/todo do not exist here).
    expect(v.stderr).not.toMatch(/cannot read|permission denied|EACCES/i);
    const problems = v.stderr.split('\n').filter((l) => l.includes(`${file}:`) && !/ has \d+ problems?:/.test(l));
    expect(problems.length, v.stderr).toBeGreaterThan(0);
    for (const line of problems) expect(line).toMatch(/ targets\.todo\.(path|deploy): /);
  });

  it('init as root without --group says the pollpray user cannot read it and prints the chgrp that fixes it', async () => {
    const file = join(etcDir(), 'etc', 'pollpray', 'config.yaml');
    const r = await execa('node', [BIN, 'init', file], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${file} is root's alone (0640): the user pollpray runs as cannot read it`);
    expect(r.stdout).toContain(`chgrp pollpray ${file} ${join(file, '..')}`);
  });

  it('init --group with a group that does not exist changes nothing and exits 2', async () => {
    const file = join(etcDir(), 'config.yaml');
    const r = await execa('node', [BIN, 'init', '--group', 'no-such-group-pp', file], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('group no-such-group-pp does not exist');
    expect(() => statSync(file)).toThrow();
  });
});
