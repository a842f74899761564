/**
 * The LFS endpoint pollpray pins (src/git/fetch.ts) is the one git-lfs itself derives from
 * the repo URL when nothing overrides it: checked against the installed git-lfs's own
 * `git lfs env`, so a git-lfs that derives it differently fails here, not in production.
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { lfsEndpoint } from '../../src/git/fetch.js';
import { requireBinary } from '../helpers/require-env.js';

async function lfsEnv(repo: string, pinned?: string): Promise<{ endpoint: string; ssh: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-lfs-env-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const env = { HOME: dir, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', PATH: process.env.PATH ?? '/usr/bin:/bin' };
  await execa('git', ['init', '-q', dir], { env, extendEnv: false });
  await execa('git', ['remote', 'add', 'origin', repo], { cwd: dir, env, extendEnv: false });
  const r = await execa('git', [...(pinned ? ['-c', `lfs.url=${pinned}`] : []), 'lfs', 'env'], { cwd: dir, env, extendEnv: false, reject: false });
  const out = `${r.stdout}\n${r.stderr}`;
  return { endpoint: /^Endpoint=(\S+)/m.exec(out)?.[1] ?? '', ssh: /^\s*SSH=(.*)$/m.exec(out)?.[1] ?? '' };
}

describe.skipIf(requireBinary('git-lfs', 'git-lfs'))('lfsEndpoint', () => {
  it.each([
    'https://git.example.com/acme/app.git',
    'https://git.example.com/acme/app',
    'https://git.example.com/acme/app.git/',
    'http://127.0.0.1:8080/acme/app.git',
    'git://git.example.com/acme/app.git',
    'file:///srv/git/app.git',
  ])('%s: the endpoint git-lfs derives itself', async (repo) => {
    const derived = await lfsEnv(repo);
    expect(derived.endpoint).not.toBe('');
    expect(await lfsEnv(repo, lfsEndpoint(repo))).toEqual(derived);
  });

  it('a local path (as git-lfs sees one that exists): the endpoint git-lfs derives itself', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'pollpray-lfs-local-'));
    onTestFinished(() => rmSync(repo, { recursive: true, force: true }));
    const derived = await lfsEnv(repo);
    expect(derived.endpoint).toMatch(/^file:\/\//);
    expect(await lfsEnv(repo, lfsEndpoint(repo))).toEqual(derived);
  });

  it.each(['git@git.example.com:acme/app.git', 'ssh://git@git.example.com:2222/acme/app.git', 'deploy-alias:acme/app.git'])(
    '%s: the same ssh host, user, port and path git-lfs asks (git-lfs-authenticate or git-lfs-transfer)',
    async (repo) => {
      const derived = await lfsEnv(repo);
      expect(derived.ssh).not.toBe('');
      expect((await lfsEnv(repo, lfsEndpoint(repo))).ssh).toBe(derived.ssh);
    },
  );
});
