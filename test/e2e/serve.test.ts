import { createHmac, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOrigin, type Origin } from '../helpers/origin.js';
import { makeWorld, until, type World } from '../helpers/pollpray-cli.js';

const SECRET = 'test-webhook-secret-0123456789abcdef';

interface Served {
  url: string;
  stop(): Promise<{ exitCode: number | undefined; stdout: string }>;
}

/** Starts `pollpray serve` on a free loopback port and resolves once it listens. */
async function startServe(world: World): Promise<Served> {
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
  const { onTestFinished } = await import('vitest');
  onTestFinished(async () => void (await stop()));
  return { url, stop };
}

function repoName(origin: Origin): string {
  // file:///tmp/pollpray-origin-XXXX/origin.git ends in <dir>/origin, like owner/name,
  // the way a Gitea on this machine keeps <repositories>/owner/name.git.
  return `${basename(origin.dir)}/origin`;
}

const FIXTURES = resolve(import.meta.dirname, '../fixtures/forges');
const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
const hmac = (body: string | Buffer, secret = SECRET) => createHmac('sha256', secret).update(body).digest('hex');
const post = (url: string, headers: Record<string, string>, body: string) => fetch(`${url}/webhook`, { method: 'POST', headers, body });

function github(url: string, payload: unknown, opts: { id?: string; secret?: string; event?: string; form?: boolean } = {}) {
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

function gitlab(url: string, payload: unknown, opts: { id?: string; token?: string | null; event?: string } = {}) {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-gitlab-event': opts.event ?? 'Push Hook',
    'x-gitlab-event-uuid': opts.id ?? randomUUID(),
  };
  if (opts.token !== null) headers['x-gitlab-token'] = opts.token ?? SECRET;
  return post(url, headers, JSON.stringify(payload));
}

/** Gitea/Forgejo with the form content type: payload=<url-encoded JSON>, the JSON itself signed. */
function giteaForm(url: string, payload: unknown) {
  const json = JSON.stringify(payload);
  return post(
    url,
    { 'content-type': 'application/x-www-form-urlencoded', 'x-gitea-event': 'push', 'x-gitea-delivery': randomUUID(), 'x-gitea-signature': hmac(json), 'x-github-event': 'push' },
    new URLSearchParams({ payload: json }).toString(),
  );
}

function bitbucketServer(url: string, payload: unknown, opts: { signature?: string | null } = {}) {
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'x-event-key': 'repo:refs_changed', 'x-request-id': randomUUID() };
  if (opts.signature !== null) headers['x-hub-signature'] = opts.signature ?? `sha256=${hmac(body)}`;
  return post(url, headers, body);
}

/** The repository block of a Gitea on this machine that keeps `repo` (and so the local origin). */
const localForge = (repo: string) => ({ full_name: repo, html_url: `http://localhost:3000/${repo}`, clone_url: `http://localhost:3000/${repo}.git` });

const githubPush = (repo: string, ref = 'refs/heads/main', host = 'localhost:3000') => ({
  ref,
  // A payload's commit is never trusted: this one does not even exist.
  after: 'f'.repeat(40),
  repository: { full_name: repo, html_url: `http://${host}/${repo}` },
});

const gitlabPush = (repo: string, ref = 'refs/heads/main') => ({
  ...fixture('gitlab-push.json'),
  ref,
  project: { path_with_namespace: repo, web_url: `http://localhost:8080/${repo}`, git_ssh_url: `git@localhost:${repo}.git` },
});

async function setup(opts: { workers?: number; script?: string; extraTargets?: Record<string, unknown> } = {}) {
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
  const calls = () => (existsSync(callsFile) ? readFileSync(callsFile, 'utf8').split('\n').filter((l) => l.trim()) : []);
  return { origin, world, calls, deploy };
}

describe('pollpray serve (webhook accelerator)', () => {
  it('a valid GitHub push deploys the remote head (not the payload commit); SIGTERM stops it cleanly', async () => {
    const { origin, world, calls } = await setup();
    const served = await startServe(world);
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${served.url}/healthz`)).status).toBe(200);
    expect((await github(served.url, { zen: 'hi' }, { event: 'ping' })).status).toBe(200);

    const res = await github(served.url, githubPush(repoName(origin)));
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ status: 'queued', targets: ['app'] });
    await until(() => calls().length === 1, 20_000, 'the deploy');
    expect(calls()).toEqual([`app ${await origin.head()}`]);
    await until(() => world.state('app')?.lastResult === 'deployed', 10_000, 'state');

    const stopped = await served.stop();
    expect(stopped.exitCode).toBe(0);
    expect(world.logText()).toMatch(/webhook GitHub push .* refs\/heads\/main: queued app/);
  });

  it('a valid GitLab push deploys; a push to an untracked branch is accepted and ignored', async () => {
    const { origin, world, calls } = await setup();
    const served = await startServe(world);
    const other = await gitlab(served.url, gitlabPush(repoName(origin), 'refs/heads/feature'));
    expect(other.status).toBe(202);
    expect(await other.json()).toMatchObject({ status: 'ignored' });
    const res = await gitlab(served.url, gitlabPush(repoName(origin)));
    expect(res.status).toBe(202);
    await until(() => calls().length === 1, 20_000, 'the deploy');
    expect(calls()).toEqual([`app ${await origin.head()}`]);
  });

  it('bad deliveries get 403/404/413/400 and neither crash the server nor block the queue', async () => {
    const { origin, world, calls } = await setup();
    const served = await startServe(world);
    const repo = repoName(origin);
    const cases: [string, Promise<Response>, number][] = [
      ['wrong GitHub signature', github(served.url, githubPush(repo), { secret: 'not-the-secret-at-all' }), 403],
      ['wrong GitLab token', gitlab(served.url, gitlabPush(repo), { token: 'wrong' }), 403],
      ['GitLab without X-Gitlab-Token', gitlab(served.url, gitlabPush(repo), { token: null }), 403],
      ['GitLab system hook without X-Gitlab-Token', gitlab(served.url, { ...gitlabPush(repo), event_name: 'push' }, { token: null, event: 'System Hook' }), 403],
      ['Bitbucket Data Center without a signature', bitbucketServer(served.url, fixture('bitbucket-server-refs-changed.json'), { signature: null }), 403],
      ['repository not allowed', github(served.url, githubPush('evil/repo')), 404],
      ['same owner/name on another host', github(served.url, githubPush(repo, 'refs/heads/main', 'github.com')), 404],
      ['allowed, but no target deploys it', github(served.url, githubPush('acme/other', 'refs/heads/main', 'github.com')), 404],
      ['an 8 KiB delivery id (correctly signed)', github(served.url, githubPush(repo), { id: 'a'.repeat(8192) }), 400],
      ['oversize body', github(served.url, { padding: 'x'.repeat(2 * 1024 * 1024), ...githubPush(repo) }), 413],
      ['malformed JSON (correctly signed)', github(served.url, '{"ref": "refs/heads/main", '), 400],
      ['no forge headers', fetch(`${served.url}/webhook`, { method: 'POST', body: '{}' }), 400],
    ];
    for (const [name, response, status] of cases) expect((await response).status, name).toBe(status);
    expect((await fetch(`${served.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${served.url}/queue`)).json()).toMatchObject({ queue_length: 0, queue: [] });
    expect(calls()).toEqual([]);
    expect(world.logText()).toMatch(/webhook refused \(403\): GitHub delivery with a wrong or missing signature/);
    expect(world.logText()).toMatch(/webhook refused \(403\): GitLab delivery with a wrong or missing token/);
    expect(world.logText()).toMatch(/webhook refused \(404\): repository evil\/repo .* is not in serve.allow/);
    expect(world.logText()).toMatch(/webhook refused \(400\): GitHub delivery id is not an id/);
    expect(world.logText()).not.toContain('a'.repeat(200));
    expect(world.logText()).not.toContain(SECRET);

    expect((await github(served.url, githubPush(repo))).status).toBe(202);
    await until(() => calls().length === 1, 20_000, 'the deploy after the bad deliveries');
    expect(readFileSync(join(world.stateDir, 'serve', 'deliveries.json'), 'utf8')).not.toContain('a'.repeat(200));
  });

  it('a replayed delivery id is ignored, also after a restart', async () => {
    const { origin, world, calls } = await setup();
    const id = randomUUID();
    let served = await startServe(world);
    expect((await github(served.url, githubPush(repoName(origin)), { id })).status).toBe(202);
    await until(() => calls().length === 1, 20_000, 'the first deploy');
    await until(() => world.state('app')?.lastResult === 'deployed', 10_000, 'state');
    await origin.commit({ 'app.txt': 'v2\n' }, 'Second');

    const replay = await github(served.url, githubPush(repoName(origin)), { id });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({ status: 'duplicate' });
    expect(await (await fetch(`${served.url}/queue`)).json()).toMatchObject({ queue_length: 0, running: [] });

    expect((await served.stop()).exitCode).toBe(0);
    served = await startServe(world);
    const afterRestart = await github(served.url, githubPush(repoName(origin)), { id });
    expect(await afterRestart.json()).toMatchObject({ status: 'duplicate' });
    expect(await (await fetch(`${served.url}/queue`)).json()).toMatchObject({ queue_length: 0, running: [] });
    expect(calls()).toHaveLength(1);
  });

  it('/queue shows what waits while a worker is busy', async () => {
    const release = 'release-app';
    const { origin, world, calls } = await setup({
      workers: 1,
      script: `if [ "$POLLPRAY_TARGET" = app ]; then while [ ! -e "${release}" ]; do sleep 0.05; done; fi`,
    });
    await origin.createBranch('dev');
    const deploy = join(world.dir, 'deploy.sh');
    const config = readFileSync(world.configFile, 'utf8');
    // Add a second target of the same repo on branch dev, served by the same single worker.
    writeFileSync(world.configFile, config.replace(/^targets:\n/m, `targets:\n  dev:\n    repo: ${origin.url}\n    branch: dev\n    path: ${join(world.dir, 'dev')}\n    deploy: ${deploy}\n`));
    const served = await startServe(world);
    expect((await github(served.url, githubPush(repoName(origin)))).status).toBe(202);
    await until(() => calls().length === 1, 20_000, 'app to start deploying');
    expect((await github(served.url, githubPush(repoName(origin), 'refs/heads/dev'))).status).toBe(202);
    const queue = (await (await fetch(`${served.url}/queue`)).json()) as { queue_length: number; queue: { target: string }[]; running: { target: string }[] };
    expect(queue.queue_length).toBe(1);
    expect(queue.queue.map((q) => q.target)).toEqual(['dev']);
    expect(queue.running.map((q) => q.target)).toEqual(['app']);

    writeFileSync(join(world.dir, 'app', release), '');
    await until(() => calls().length === 2, 20_000, 'dev to deploy after app');
    expect(calls().map((c) => c.split(' ')[0])).toEqual(['app', 'dev']);
  });
  it('a captured body replayed under a new delivery id queues nothing, also after a restart', async () => {
    const { origin, world, calls } = await setup();
    let served = await startServe(world);
    const body = githubPush(repoName(origin));
    expect((await github(served.url, body)).status).toBe(202);
    await until(() => calls().length === 1, 20_000, 'the first deploy');
    await until(() => world.state('app')?.lastResult === 'deployed', 10_000, 'state');
    await origin.commit({ 'app.txt': 'v2\n' }, 'Second');

    const replay = await github(served.url, body, { id: randomUUID() });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({ status: 'duplicate' });
    expect(await (await fetch(`${served.url}/queue`)).json()).toMatchObject({ queue_length: 0, running: [] });
    expect(world.logText()).toMatch(/repeats the body of one already handled \(a replay\)/);

    expect((await served.stop()).exitCode).toBe(0);
    served = await startServe(world);
    expect(await (await github(served.url, body, { id: randomUUID() })).json()).toMatchObject({ status: 'duplicate' });
    expect(await (await fetch(`${served.url}/queue`)).json()).toMatchObject({ queue_length: 0, running: [] });
    expect(calls()).toHaveLength(1);
  });

  it('form-encoded deliveries deploy: GitHub (form body signed) and Gitea/Forgejo (JSON inside signed)', async () => {
    const { origin, world, calls } = await setup();
    const served = await startServe(world);
    const res = await github(served.url, githubPush(repoName(origin)), { form: true });
    expect(res.status).toBe(202);
    await until(() => calls().length === 1, 20_000, 'the deploy from the GitHub form delivery');
    await until(() => world.state('app')?.lastResult === 'deployed', 10_000, 'state');

    await origin.commit({ 'app.txt': 'v2\n' }, 'Second');
    const gitea = await giteaForm(served.url, { ...fixture('gitea-push.json'), ref: 'refs/heads/main', repository: localForge(repoName(origin)) });
    expect(gitea.status).toBe(202);
    await until(() => calls().length === 2, 20_000, 'the deploy from the Gitea form delivery');
    expect(calls()[1]).toBe(`app ${await origin.head()}`);
  });

  it('a GitLab system hook push and a Bitbucket Data Center push deploy; a system hook for anything else queues nothing', async () => {
    const { origin, world, calls } = await setup();
    const served = await startServe(world);
    const other = await gitlab(served.url, fixture('gitlab-system-project-create.json'), { event: 'System Hook' });
    expect(other.status).toBe(202);
    expect(await other.json()).toMatchObject({ status: 'ignored' });

    const system = await gitlab(served.url, { ...fixture('gitlab-system-push.json'), ...gitlabPush(repoName(origin)), event_name: 'push' }, { event: 'System Hook' });
    expect(system.status).toBe(202);
    await until(() => calls().length === 1, 20_000, 'the deploy from the system hook');
    await until(() => world.state('app')?.lastResult === 'deployed', 10_000, 'state');

    await origin.commit({ 'app.txt': 'v2\n' }, 'Second');
    const dc = fixture('bitbucket-server-refs-changed.json') as { repository: Record<string, unknown>; changes: unknown[] };
    const [key, slug] = repoName(origin).split('/');
    const payload = {
      ...dc,
      repository: { ...dc.repository, slug, project: { key }, links: { clone: [{ href: `ssh://git@127.0.0.1:7999/${repoName(origin)}.git`, name: 'ssh' }] } },
      changes: [{ ref: { id: 'refs/heads/main', displayId: 'main', type: 'BRANCH' }, refId: 'refs/heads/main', type: 'UPDATE' }],
    };
    expect((await bitbucketServer(served.url, payload)).status).toBe(202);
    await until(() => calls().length === 2, 20_000, 'the deploy from Bitbucket Data Center');
    expect(calls()[1]).toBe(`app ${await origin.head()}`);
  });

  it('host and path both match: a GitHub push polls the target behind the github.com alias, never the gitlab.com one', async () => {
    const { world } = await setup();
    // No network: every ssh these targets would start goes nowhere (ProxyCommand false),
    // while ssh -G still resolves the alias to its HostName.
    const sshConfig = join(world.dir, 'ssh_config');
    writeFileSync(sshConfig, 'Host github.com-repo-hello\n  HostName github.com\nHost *\n  ProxyCommand /bin/false\n');
    const config = readFileSync(world.configFile, 'utf8');
    const extra = (name: string, repo: string) =>
      `  ${name}:\n    repo: ${repo}\n    branch: master\n    path: ${join(world.dir, name)}\n    deploy: ${join(world.dir, 'deploy.sh')}\n    ssh: { config: ${sshConfig} }\n`;
    writeFileSync(
      world.configFile,
      config
        .replace(/^targets:\n/m, `targets:\n${extra('hello-gh', 'git@github.com-repo-hello:Codertocat/Hello-World.git')}${extra('hello-gl', 'git@gitlab.com:Codertocat/Hello-World.git')}`)
        .replace(/allow:\n/, 'allow:\n    - github.com/Codertocat/Hello-World\n    - gitlab.com/Codertocat/*\n'),
    );
    const served = await startServe(world);
    const gh = { ...fixture('github-push.json'), ref: 'refs/heads/master' };
    const res = await github(served.url, gh);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ status: 'queued', targets: ['hello-gh'] });

    const gl = { ...fixture('gitlab-push.json'), project: { path_with_namespace: 'Codertocat/Hello-World', web_url: 'https://gitlab.com/Codertocat/Hello-World' } };
    const res2 = await gitlab(served.url, gl);
    expect(res2.status).toBe(202);
    expect(await res2.json()).toMatchObject({ status: 'queued', targets: ['hello-gl'] });

    // The same owner/name on a host no target uses is refused.
    const elsewhere = { ...gh, repository: { full_name: 'Codertocat/Hello-World', html_url: 'https://github.example.com/Codertocat/Hello-World' } };
    expect((await github(served.url, elsewhere)).status).toBe(404);
  });
});
