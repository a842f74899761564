import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { until } from '../helpers/pollpray-cli.js';
import { bitbucketServer, fixture, github, gitlab, gitlabPush, githubPush, repoName, SECRET, setup, startServe } from '../helpers/serve-world.js';

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

  it('a push for a paused target deploys nothing and says why; after resume the next push deploys', async () => {
    const { origin, world, calls } = await setup();
    const first = await world.cli(['run']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(calls()).toEqual([`app ${await origin.head()}`]);
    const deployed = await origin.head();
    const pause = await world.cli(['pause', 'app']);
    expect(pause.exitCode, pause.stderr).toBe(0);
    const next = await origin.commit({ 'app.txt': 'v2\n' }, 'Second');
    const served = await startServe(world);

    const res = await github(served.url, githubPush(repoName(origin)));
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ status: 'queued', targets: ['app'] });
    const skipped = /\[app\] decide: skipped: target is paused/;
    await until(() => skipped.test(world.logText()) || calls().length > 1, 20_000, 'the webhook cycle of the paused target');
    expect(calls()).toHaveLength(1);
    expect(world.logText()).toMatch(skipped);
    expect(world.state('app')).toMatchObject({ deployedSha: deployed, paused: true });

    const resume = await world.cli(['resume', 'app']);
    expect(resume.exitCode, resume.stderr).toBe(0);
    // The next push (the same body again would be a replay, row 30).
    const again = await github(served.url, { ...githubPush(repoName(origin)), after: next });
    expect(again.status).toBe(202);
    await until(() => calls().length === 2, 20_000, 'the deploy after resume');
    expect(calls()[1]).toBe(`app ${next}`);
    await until(() => world.state('app')?.deployedSha === next, 10_000, 'state');
    expect((await served.stop()).exitCode).toBe(0);
  });
});
