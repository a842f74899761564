import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { configSecrets } from '../../src/config/secrets.js';
import { credentialEnv, credentialsEnv, splitRepoCredentials } from '../../src/git/repo-credentials.js';

function load(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-secrets-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'pollpray.yaml');
  writeFileSync(file, yaml, { mode: 0o640 });
  return loadConfig(file, { uid: 1000, home: '/home/deploy', hostname: 'web-01' });
}

describe('configSecrets: every secret the config declares, wherever it gives the value', () => {
  it('takes secret_env values from a target env, a step env (top-level and per-target names), handler webhooks and the process environment', () => {
    const config = load(
      [
        'secret_env: [TOP, FROM_ENV]',
        'targets:',
        '  app:',
        '    repo: git@example.com:a/b.git',
        '    path: /srv/app',
        '    secret_env: [MINE]',
        '    env: { MINE: target-value-1, PLAIN: not-secret-1 }',
        '    steps:',
        '      - name: build',
        '        run: [make]',
        '        env: { TOP: step-top-value, MINE: step-mine-value, OTHER: not-secret-2 }',
        '        on_failure: { message: x, webhook: "https://chat.example.com/hooks/T0SECRET" }',
        '',
      ].join('\n'),
    );
    const values = configSecrets(config, { FROM_ENV: 'process-value-1' });
    expect(values).toEqual(expect.arrayContaining(['target-value-1', 'step-top-value', 'step-mine-value', 'process-value-1', 'https://chat.example.com/hooks/T0SECRET']));
    expect(values).not.toContain('not-secret-1');
    expect(values).not.toContain('not-secret-2');
  });

  it('takes the credentials out of an https repo URL and registers them', () => {
    const config = load('targets:\n  app:\n    repo: "https://deploy:p%40ss-word-9@git.example.com/a/b.git"\n    path: /srv/app\n');
    const target = config.targets[0]!;
    expect(target.repo).toBe('https://git.example.com/a/b.git');
    expect(target.repoCredentials).toEqual({ username: 'deploy', password: 'p@ss-word-9' });
    expect(configSecrets(config, {})).toEqual(expect.arrayContaining(['p@ss-word-9', Buffer.from('deploy:p@ss-word-9').toString('base64')]));
  });

  it('takes the credentials out of an lfs.url and registers them', () => {
    const config = load('targets:\n  app:\n    repo: git@example.com:a/b.git\n    path: /srv/app\n    lfs: { url: "https://lfs-reader:lfs-t0ken-7@lfs.example.com/bucket/app" }\n');
    const target = config.targets[0]!;
    expect(target.lfsUrl).toBe('https://lfs.example.com/bucket/app');
    expect(target.lfsCredentials).toEqual({ username: 'lfs-reader', password: 'lfs-t0ken-7' });
    expect(configSecrets(config, {})).toEqual(expect.arrayContaining(['lfs-t0ken-7', Buffer.from('lfs-reader:lfs-t0ken-7').toString('base64')]));
  });
});

describe('repo URL credentials', () => {
  it.each([
    ['https://x-access-token:tok123@github.com/a/b.git', 'https://github.com/a/b.git', { username: 'x-access-token', password: 'tok123' }],
    ['https://TOKENONLY99@github.com/a/b.git', 'https://github.com/a/b.git', { username: 'TOKENONLY99', password: '' }],
    ['http://u:p@127.0.0.1:8080/r.git', 'http://127.0.0.1:8080/r.git', { username: 'u', password: 'p' }],
    ['https://github.com/a/b.git', 'https://github.com/a/b.git', undefined],
    ['ssh://git@github.com/a/b.git', 'ssh://git@github.com/a/b.git', undefined],
    ['git@github.com:a/b.git', 'git@github.com:a/b.git', undefined],
  ])('%s', (repo, url, credentials) => {
    expect(splitRepoCredentials(repo)).toEqual(credentials ? { url, credentials } : { url });
  });

  it('gives git the credentials as an extraHeader scoped to the URL, through the environment', () => {
    expect(credentialEnv('https://h/r.git', { username: 'u', password: 'p' })).toEqual({
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.https://h/r.git.extraHeader',
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from('u:p').toString('base64')}`,
    });
    expect(credentialEnv('https://h/r.git', undefined)).toEqual({});
  });

  it('gives git both the repo\'s and the LFS server\'s credentials, the more specific URL first (git then skips a broader match for the same URL)', () => {
    const repo = { username: 'u', password: 'p' };
    const lfs = { username: 'l', password: 'q' };
    const basic = (c: { username: string; password: string }) => `Authorization: Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
    expect(credentialsEnv([{ url: 'https://h/', credentials: lfs }, { url: 'https://h/r.git', credentials: repo }, { url: 'https://x/', credentials: undefined }])).toEqual({
      GIT_CONFIG_COUNT: '2',
      GIT_CONFIG_KEY_0: 'http.https://h/r.git.extraHeader',
      GIT_CONFIG_VALUE_0: basic(repo),
      GIT_CONFIG_KEY_1: 'http.https://h/.extraHeader',
      GIT_CONFIG_VALUE_1: basic(lfs),
    });
  });
});
