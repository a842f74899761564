/**
 * Git LFS from a forge over ssh, end to end (test/helpers/lfs-forge.ts): a target whose repo
 * is `git@host:acme/app.git` (or `ssh://…`) with `lfs: true` gets its LFS files' content
 * through the forge's git-lfs-authenticate (an `href` and a `RemoteAuth` token) and the
 * LFS batch API, commit after commit; the token is never shown or written anywhere.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { everythingShown, lfsForge } from '../helpers/lfs-forge.js';
import { startLfsHttp } from '../helpers/lfs-http.js';
import { requireBinary } from '../helpers/require-env.js';
import { SSHD } from '../helpers/sshd.js';

describe.skipIf(requireBinary(SSHD, 'openssh-server') || requireBinary('ssh', 'openssh-client') || requireBinary('git-lfs', 'git-lfs'))('Git LFS from a forge over ssh (git-lfs-authenticate)', { timeout: 180_000 }, () => {
  for (const [strategy, url] of [['in-place', 'scp'], ['releases', 'ssh']] as const) {
    it(`${strategy}, ${url === 'scp' ? 'git@host:acme/app.git' : 'ssh://git@host/acme/app.git'}: lfs: true deploys the LFS files' content through git-lfs-authenticate's href and token, commit after commit, the token shown nowhere`, async () => {
      const f = await lfsForge(strategy, url);
      const r1 = await f.world.cli(['run']);
      expect(r1.exitCode, `${r1.stderr}\n${f.commands().join('\n')}`).toBe(0);
      expect(readFileSync(join(f.tree(), 'big.bin'), 'utf8')).toBe('first LFS content\n');
      // git-lfs asked the repo's own host for the repo's own path, and used its answer.
      const path = url === 'scp' ? 'acme/app.git' : '/acme/app.git';
      expect(f.commands()).toContain(`git-lfs-authenticate ${path} download`);
      const batch = f.lfs.requests.filter((q) => q.path === '/lfs/objects/batch');
      expect(batch.length).toBeGreaterThan(0);
      for (const q of batch) expect(q.authorization).toBe(`RemoteAuth ${f.tokens.handed}`);

      // The next commit's .lfsconfig names another LFS server: not followed (failure mode 57), over ssh too.
      const elsewhere = await startLfsHttp(f.origin.bare);
      const second = await f.commitLfs('second LFS content\n', { '.lfsconfig': `[lfs]\n\turl = ${elsewhere.url}\n[remote "origin"]\n\tlfsurl = ${elsewhere.url}\n` });
      const r2 = await f.world.cli(['run']);
      expect(r2.exitCode, r2.stderr).toBe(0);
      expect(readFileSync(join(f.tree(), 'big.bin'), 'utf8')).toBe('second LFS content\n');
      expect(f.world.state('app')).toMatchObject({ deployedSha: second, lastResult: 'deployed' });
      // git-lfs reads the .lfsconfig of the checkout it runs in: the deploy after it shows whether it was followed.
      const third = await f.commitLfs('third LFS content\n');
      const r3 = await f.world.cli(['run']);
      expect(r3.exitCode, r3.stderr).toBe(0);
      expect(readFileSync(join(f.tree(), 'big.bin'), 'utf8')).toBe('third LFS content\n');
      expect(f.world.state('app')).toMatchObject({ deployedSha: third });
      expect(elsewhere.requests).toEqual([]);
      expect(f.lfs.requests.filter((q) => q.path === '/lfs/objects/batch').length).toBeGreaterThan(batch.length + 1);

      const status = await f.world.cli(['status', '--json']);
      expect(status.exitCode, status.stderr).toBe(0);
      expect(status.stdout).toContain(third.slice(0, 12));
      const history = await f.world.cli(['history', 'app', '--json']);
      expect(history.exitCode, history.stderr).toBe(0);
      const shown = everythingShown(f, [r1.stdout, r1.stderr, r2.stdout, r2.stderr, r3.stdout, r3.stderr, status.stdout, status.stderr, history.stdout, history.stderr]);
      expect(shown).not.toContain(f.tokens.handed);
      // Nor on any command line while git-lfs talked to the LFS server.
      expect(f.lfs.exposed).toEqual([]);
    });
  }

  it('test-ssh and doctor ask the repo host\'s git-lfs-authenticate as git-lfs will: ok when it answers (its token never shown), a warning naming the host and path when the forge has no LFS for the repository', async () => {
    const f = await lfsForge('in-place');
    const where = `${f.sshd.user}@127.0.0.1:${f.sshd.port}`;
    const t = await f.world.cli(['test-ssh']);
    expect(t.exitCode, `${t.stdout}\n${t.stderr}`).toBe(0);
    expect(t.stdout).toMatch(/^app: ok {3}branch: main at /m);
    // Before: nothing asked it, and a forge without LFS showed only at the first deploy with LFS files.
    expect(t.stdout).toMatch(/^app: ok {3}lfs server: git-lfs-authenticate answered for acme\/app\.git$/m);
    expect(f.commands()).toContain('git-lfs-authenticate acme/app.git download');
    const json = await f.world.cli(['test-ssh', '--json']);
    const d = await f.world.cli(['doctor']);
    expect(d.stdout).toMatch(/^ok +app: lfs server +git-lfs-authenticate answered for acme\/app\.git$/m);
    expect(d.stdout).not.toMatch(/^FAIL/m);
    for (const text of [t.stdout, t.stderr, json.stdout, d.stdout, d.stderr, f.world.logText()]) {
      expect(text).not.toContain(f.tokens.handed);
      expect(text).not.toContain(f.lfs.url);
    }

    f.disableLfs();
    const off = await f.world.cli(['test-ssh']);
    expect(off.exitCode, off.stdout).toBe(0);
    expect(off.stdout).toMatch(/^app: ok {3}branch: /m);
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(off.stdout).toMatch(new RegExp(`^app: warn lfs server: git-lfs-authenticate acme/app\\.git download failed \\(exit 1\\): Git LFS is not enabled for this repository \\(fix: check that ${esc(where)} serves Git LFS for acme/app\\.git to this key`, 'm'));
  });
});

