import { createHmac, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
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
  // file:///tmp/pollpray-origin-XXXX/origin.git ends in <dir>/origin, like owner/name.
  return `${basename(origin.dir)}/origin`;
}

function github(url: string, payload: unknown, opts: { id?: string; secret?: string; event?: string } = {}) {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const signature = `sha256=${createHmac('sha256', opts.secret ?? SECRET).update(body).digest('hex')}`;
  return fetch(`${url}/webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': opts.event ?? 'push',
      'x-github-delivery': opts.id ?? randomUUID(),
      'x-hub-signature-256': signature,
    },
    body,
  });
}

function gitlab(url: string, payload: unknown, opts: { id?: string; token?: string } = {}) {
  return fetch(`${url}/webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-gitlab-event': 'Push Hook',
      'x-gitlab-event-uuid': opts.id ?? randomUUID(),
      'x-gitlab-token': opts.token ?? SECRET,
    },
    body: JSON.stringify(payload),
  });
}

const githubPush = (repo: string, ref = 'refs/heads/main') => ({
  ref,
  // A payload's commit is never trusted: this one does not even exist.
  after: 'f'.repeat(40),
  repository: { full_name: repo },
});

async function setup(opts: { workers?: number; script?: string; extraTargets?: Record<string, unknown> } = {}) {
  const origin = await makeOrigin();
  const world = makeWorld();
  const secretFile = join(world.dir, 'webhook.secret');
  writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
  const callsFile = join(world.dir, 'calls.log');
  const deploy = world.script('deploy.sh', `echo "$POLLPRAY_TARGET $POLLPRAY_NEW_SHA" >> "${callsFile}"\n${opts.script ?? ''}`);
  world.writeConfig({
    serve: { secret_file: secretFile, allow: [repoName(origin), 'acme/other'], workers: opts.workers ?? 2 },
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
    expect(world.logText()).toMatch(/webhook github push .* refs\/heads\/main: queued app/);
  });

  it('a valid GitLab push deploys; a push to an untracked branch is accepted and ignored', async () => {
    const { origin, world, calls } = await setup();
    const served = await startServe(world);
    const other = await gitlab(served.url, { ref: 'refs/heads/feature', project: { path_with_namespace: repoName(origin) } });
    expect(other.status).toBe(202);
    expect(await other.json()).toMatchObject({ status: 'ignored' });
    const res = await gitlab(served.url, { ref: 'refs/heads/main', project: { path_with_namespace: repoName(origin) } });
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
      ['wrong GitLab token', gitlab(served.url, { ref: 'refs/heads/main', project: { path_with_namespace: repo } }, { token: 'wrong' }), 403],
      ['repository not allowed', github(served.url, githubPush('evil/repo')), 404],
      ['allowed, but no target deploys it', github(served.url, githubPush('acme/other')), 404],
      ['oversize body', github(served.url, { padding: 'x'.repeat(2 * 1024 * 1024), ...githubPush(repo) }), 413],
      ['malformed JSON (correctly signed)', github(served.url, '{"ref": "refs/heads/main", '), 400],
      ['no forge headers', fetch(`${served.url}/webhook`, { method: 'POST', body: '{}' }), 400],
    ];
    for (const [name, response, status] of cases) expect((await response).status, name).toBe(status);
    expect((await fetch(`${served.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${served.url}/queue`)).json()).toMatchObject({ queue_length: 0, queue: [] });
    expect(calls()).toEqual([]);
    expect(world.logText()).toMatch(/webhook refused \(403\): github delivery with a wrong or missing signature/);
    expect(world.logText()).toMatch(/webhook refused \(404\): repository evil\/repo is not in serve.allow/);
    expect(world.logText()).not.toContain(SECRET);

    expect((await github(served.url, githubPush(repo))).status).toBe(202);
    await until(() => calls().length === 1, 20_000, 'the deploy after the bad deliveries');
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
});
