import { execa } from 'execa';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOrigin } from '../helpers/origin.js';

describe('makeOrigin', () => {
  it('starts with one pushed commit on main whose sha head() reports', async () => {
    const origin = await makeOrigin();
    const head = await origin.head();
    expect(head).toMatch(/^[0-9a-f]{40}$/);
    const ls = await execa('git', ['ls-remote', origin.url, 'refs/heads/main'], { env: origin.env, extendEnv: false });
    expect(ls.stdout).toBe(`${head}\trefs/heads/main`);
    expect(await origin.git(['show', '-s', '--format=%an <%ae> %G?', head])).toBe('Pollpray Test <test@pollpray.invalid> N');
    expect(origin.url).toBe(`file://${origin.bare}`);
  });

  it('commit pushes and returns the new sha, with executable bits kept', async () => {
    const origin = await makeOrigin();
    const sha = await origin.commit({ 'bin/run.sh': '#!/bin/sh\n', 'a.txt': 'a\n' }, 'add run', { executable: ['bin/run.sh'] });
    expect(await origin.head()).toBe(sha);
    const tree = await origin.git(['ls-tree', '-r', sha], origin.bare);
    expect(tree).toMatch(/^100755 blob \w+\tbin\/run\.sh$/m);
    expect(tree).toMatch(/^100644 blob \w+\ta\.txt$/m);
  });

  it('forcePushTo rewinds main and the next commit builds on the rewound sha', async () => {
    const origin = await makeOrigin();
    const first = await origin.head();
    await origin.commit({ 'a.txt': 'a\n' }, 'a');
    await origin.forcePushTo(first);
    expect(await origin.head()).toBe(first);
    const b = await origin.commit({ 'b.txt': 'b\n' }, 'b');
    expect(await origin.git(['rev-parse', `${b}^`], origin.bare)).toBe(first);
  });

  it('createBranch and deleteBranch change the refs of the bare repo', async () => {
    const origin = await makeOrigin();
    await origin.createBranch('feature');
    expect(await origin.git(['for-each-ref', '--format=%(refname)'], origin.bare)).toBe('refs/heads/feature\nrefs/heads/main');
    await origin.deleteBranch('feature');
    expect(await origin.git(['for-each-ref', '--format=%(refname)'], origin.bare)).toBe('refs/heads/main');
  });

  let leftover = '';
  it('cleanup removes the temp dir (also run by onTestFinished)', async () => {
    const origin = await makeOrigin();
    leftover = origin.dir;
    expect(statSync(join(origin.dir, 'origin.git')).isDirectory()).toBe(true);
  });
  it('…so the previous test left nothing behind', () => {
    expect(leftover).not.toBe('');
    expect(existsSync(leftover)).toBe(false);
  });
});
