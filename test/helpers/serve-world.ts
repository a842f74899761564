/** `pollpray serve` against a local origin, and deliveries signed the way each forge signs them. */
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { onTestFinished } from 'vitest';
import { makeOrigin, type Origin } from './origin.js';
import { linesOf, makeWorld, type World } from './pollpray-cli.js';

export const SECRET = 'test-webhook-secret-0123456789abcdef';

export interface Served {
  url: string;
  stop(): Promise<{ exitCode: number | undefined; stdout: string }>;
}

/** Starts `pollpray serve` on a free loopback port and resolves once it listens. */
export async function startServe(world: World): Promise<Served> {
  const child = world.spawn(['serve', '--listen', '127.0.0.1:0']);
  let stdout = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(stdout);
      if (m?.[1]) resolve(m[1]);
    });
    void child.then((r) => reject(new Error(`serve exited early (${r.exitCode}): ${String(r.stderr)}`)));
  });
  let stopped = false;
  const stop = async () => {
    if (!stopped) child.kill('SIGTERM');
    stopped = true;
    const r = await child;
    return { exitCode: r.exitCode, stdout: String(r.stdout) };
  };
  // Never leave a server behind, whatever the test's outcome.
  onTestFinished(async () => void (await stop()));
  return { url, stop };
}

export function repoName(origin: Origin): string {
  // file:///tmp/pollpray-origin-XXXX/origin.git ends in <dir>/origin, like owner/name,
  // the way a Gitea on this machine keeps <repositories>/owner/name.git.
  return `${basename(origin.dir)}/origin`;
}

export const FIXTURES = resolve(import.meta.dirname, '../fixtures/forges');
export const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
export const hmac = (body: string | Buffer, secret = SECRET) => createHmac('sha256', secret).update(body).digest('hex');
export const post = (url: string, headers: Record<string, string>, body: string) => fetch(`${url}/webhook`, { method: 'POST', headers, body });

export function github(url: string, payload: unknown, opts: { id?: string; secret?: string; event?: string; form?: boolean } = {}) {
  const json = typeof payload === 'string' ? payload : JSON.stringify(payload);
  // GitHub's form content type sends payload=<url-encoded JSON> and signs that body.
  const body = opts.form ? new URLSearchParams({ payload: json }).toString() : json;
  return post(
    url,
    {
      'content-type': opts.form ? 'application/x-www-form-urlencoded' : 'application/json',
      'x-github-event': opts.event ?? 'push',
      'x-github-delivery': opts.id ?? randomUUID(),
      'x-hub-signature-256': `sha256=${hmac(body, opts.secret)}`,
    },
    body,
  );
}

export function gitlab(url: string, payload: unknown, opts: { id?: string; token?: string | null; event?: string } = {}) {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-gitlab-event': opts.event ?? 'Push Hook',
    'x-gitlab-event-uuid': opts.id ?? randomUUID(),
  };
  if (opts.token !== null) headers['x-gitlab-token'] = opts.token ?? SECRET;
  return post(url, headers, JSON.stringify(payload));
}

/** Gitea/Forgejo with the form content type: payload=<url-encoded JSON>, the JSON itself signed. */
export function giteaForm(url: string, payload: unknown) {
  const json = JSON.stringify(payload);
  return post(
    url,
    { 'content-type': 'application/x-www-form-urlencoded', 'x-gitea-event': 'push', 'x-gitea-delivery': randomUUID(), 'x-gitea-signature': hmac(json), 'x-github-event': 'push' },
    new URLSearchParams({ payload: json }).toString(),
  );
}

export function bitbucketServer(url: string, payload: unknown, opts: { signature?: string | null } = {}) {
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'x-event-key': 'repo:refs_changed', 'x-request-id': randomUUID() };
  if (opts.signature !== null) headers['x-hub-signature'] = opts.signature ?? `sha256=${hmac(body)}`;
  return post(url, headers, body);
}

/** The repository block of a Gitea on this machine that keeps `repo` (and so the local origin). */
export const localForge = (repo: string) => ({ full_name: repo, html_url: `http://localhost:3000/${repo}`, clone_url: `http://localhost:3000/${repo}.git` });

export const githubPush = (repo: string, ref = 'refs/heads/main', host = 'localhost:3000') => ({
  ref,
  // A payload's commit is never trusted: this one does not even exist.
  after: 'f'.repeat(40),
  repository: { full_name: repo, html_url: `http://${host}/${repo}` },
});

export const gitlabPush = (repo: string, ref = 'refs/heads/main') => ({
  ...fixture('gitlab-push.json'),
  ref,
  project: { path_with_namespace: repo, web_url: `http://localhost:8080/${repo}`, git_ssh_url: `git@localhost:${repo}.git` },
});

export async function setup(opts: { workers?: number; script?: string; extraTargets?: Record<string, unknown> } = {}) {
  const origin = await makeOrigin();
  const world = makeWorld();
  const secretFile = join(world.dir, 'webhook.secret');
  writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
  const callsFile = join(world.dir, 'calls.log');
  const deploy = world.script('deploy.sh', `echo "$POLLPRAY_TARGET $POLLPRAY_NEW_SHA" >> "${callsFile}"\n${opts.script ?? ''}`);
  world.writeConfig({
    serve: { secret_file: secretFile, allow: [`localhost/${repoName(origin)}`, 'github.com/acme/other'], workers: opts.workers ?? 2 },
    targets: {
      app: { repo: origin.url, branch: 'main', path: join(world.dir, 'app'), deploy, deploy_timeout: '30s' },
      ...opts.extraTargets,
    },
  });
  // Complete lines only: the shell creates the file (>>) a moment before echo writes to it.
  const calls = () => linesOf(callsFile);
  return { origin, world, calls, deploy };
}

