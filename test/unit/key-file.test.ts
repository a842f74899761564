import { chmodSync, chownSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { judgeKeyFile } from '../../src/git/key-file.js';

const dir = mkdtempSync(join(tmpdir(), 'pollpray-key-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const me = { uid: process.getuid?.() ?? 0, user: 'me' };

function key(name: string, mode: number): string {
  const path = join(dir, name);
  writeFileSync(path, 'not really a key\n');
  chmodSync(path, mode);
  return path;
}

describe('deploy key file verdict (doctor and test-ssh)', () => {
  it.each([
    [0o600, 'ok', /is mode 0600, owned by me$/],
    [0o400, 'ok', /is mode 0400/],
    [0o640, 'fail', /too open, ssh refuses a private key that others can read/],
    [0o644, 'fail', /every local user can read the deploy key \(and ssh refuses it\)/],
  ] as const)('a key of mine with mode %o: %s', (mode, status, detail) => {
    const v = judgeKeyFile(key(`k${mode.toString(8)}`, mode), me);
    expect(v.status).toBe(status);
    expect(v.detail).toMatch(detail);
    if (status === 'fail') expect(v.fix).toMatch(/^chmod 600 /);
  });

  it("a key owned by another non-root user fails (that user could swap it); root's key is trusted", () => {
    const owned = key('foreign', 0o600);
    if (me.uid === 0) {
      // root's key, judged for an unprivileged runner: root is trusted.
      expect(judgeKeyFile(owned, { uid: 65534, user: 'deploy' }).status).toBe('ok');
      chownSync(owned, 65534, 65534);
      const v = judgeKeyFile(owned, me);
      expect(v.status).toBe('fail');
      expect(v.detail).toMatch(/is owned by uid 65534, not by root or me who runs pollpray: that user could change it and swap the deploy key/);
      expect(v.fix).toMatch(/^chown me /);
    } else {
      const v = judgeKeyFile(owned, { uid: me.uid + 1, user: 'deploy' });
      expect(v.status).toBe('fail');
      expect(v.fix).toMatch(/^chown deploy /);
    }
  });

  it('a key in a directory others can write fails, naming the directory', () => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const path = join(open, 'id');
    writeFileSync(path, 'k\n', { mode: 0o600 });
    const v = judgeKeyFile(path, me);
    expect(v.status).toBe('fail');
    expect(v.detail).toMatch(new RegExp(`is in ${open}, which is group- and world-writable \\(mode 0777\\)`));
    expect(v.fix).toBe(`chmod go-w ${open}`);
  });

  it('a missing key and a directory fail with what to do', () => {
    expect(judgeKeyFile(join(dir, 'absent'), me, 'pollpray app')).toMatchObject({ status: 'fail', fix: expect.stringMatching(/^ssh-keygen -t ed25519 -N '' -C 'pollpray app' -f /) });
    mkdirSync(join(dir, 'a-dir'));
    expect(judgeKeyFile(join(dir, 'a-dir'), me)).toMatchObject({ status: 'fail', detail: expect.stringMatching(/not a regular file/) });
  });
});
