/** Faults in webhook deliveries to `pollpray serve` (rows 27-31 and 60 of the failure-modes table). */
import { randomUUID } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { until } from '../helpers/pollpray-cli.js';
import {
  bitbucketServer,
  fixture,
  github,
  giteaForm,
  gitlab,
  gitlabPush,
  githubPush,
  hmac,
  localForge,
  post,
  repoName,
  setup,
  startServe,
} from '../helpers/serve-world.js';

describe('webhook deliveries', () => {
  it('#30 a captured body replayed under a new delivery id queues nothing, also after a restart', async () => {
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

    // An id no forge sends (8 KiB) is refused and never reaches the delivery memory.
    const long = await github(served.url, githubPush(repoName(origin), 'refs/heads/other'), { id: 'a'.repeat(8192) });
    expect(long.status).toBe(400);
    expect(readFileSync(join(world.stateDir, 'serve', 'deliveries.json'), 'utf8')).not.toContain('a'.repeat(129));
  });

  it('#100 a deploy script that becomes world-writable while serve runs: the next delivery\'s cycle does not run it, logged with the chmod; once fixed, the next delivery deploys', async () => {
    const { origin, world, calls, deploy } = await setup();
    const served = await startServe(world);
    expect((await github(served.url, githubPush(repoName(origin)))).status).toBe(202);
    await until(() => world.state('app')?.lastResult === 'deployed', 20_000, 'the first deploy');
    expect(calls()).toHaveLength(1);

    chmodSync(deploy, 0o757);
    await origin.commit({ 'app.txt': 'v2\n' }, 'Second');
    expect((await github(served.url, githubPush(repoName(origin), 'refs/heads/main', 'localhost:3001'))).status).toBe(202);
    await until(() => /webhook cycle not run: .*targets\.app\.deploy: .* is world-writable \(mode 0757\).*\(fix: chmod o-w /.test(world.logText()), 20_000, 'the refusal');
    expect(await (await fetch(`${served.url}/queue`)).json()).toMatchObject({ queue_length: 0, running: [] });
    expect(calls()).toHaveLength(1);

    chmodSync(deploy, 0o755);
    expect((await github(served.url, githubPush(repoName(origin), 'refs/heads/main', 'localhost:3002'))).status).toBe(202);
    await until(() => calls().length === 2, 20_000, 'the deploy once the script is fixed');
    expect((await served.stop()).exitCode).toBe(0);
  });

  it('#28 form-encoded deliveries deploy: GitHub (form body signed) and Gitea/Forgejo (JSON inside signed)', async () => {
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

  it('#29 a GitLab system hook push and a Bitbucket Data Center push deploy; a system hook for anything else queues nothing', async () => {
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

  it('#27 host and path both match: a GitHub push polls the target behind the github.com alias, never the gitlab.com one', async () => {
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

  it('#31 a delivery without the secret, or with a wrong one, is refused (403) for every forge and queues nothing', async () => {
    const { origin, world, calls } = await setup();
    const served = await startServe(world);
    const repo = repoName(origin);
    const json = JSON.stringify(githubPush(repo));
    const send = (headers: Record<string, string>) => post(served.url, { 'content-type': 'application/json', ...headers }, json);
    const id = () => randomUUID();
    const cases: [string, Record<string, string>][] = [
      ['GitHub, no signature', { 'x-github-event': 'push', 'x-github-delivery': id() }],
      ['GitHub, wrong signature', { 'x-github-event': 'push', 'x-github-delivery': id(), 'x-hub-signature-256': `sha256=${hmac(json, 'wrong-secret')}` }],
      ['Gitea, no signature', { 'x-gitea-event': 'push', 'x-gitea-delivery': id() }],
      ['Gitea, wrong signature', { 'x-gitea-event': 'push', 'x-gitea-delivery': id(), 'x-gitea-signature': hmac(json, 'wrong-secret') }],
      ['Forgejo, no signature', { 'x-forgejo-event': 'push', 'x-forgejo-delivery': id() }],
      ['Forgejo, wrong signature', { 'x-forgejo-event': 'push', 'x-forgejo-delivery': id(), 'x-forgejo-signature': hmac(json, 'wrong-secret') }],
      ['GitLab, no token', { 'x-gitlab-event': 'Push Hook', 'x-gitlab-event-uuid': id() }],
      ['GitLab, wrong token', { 'x-gitlab-event': 'Push Hook', 'x-gitlab-event-uuid': id(), 'x-gitlab-token': 'wrong-secret' }],
      ['GitLab system hook, no token', { 'x-gitlab-event': 'System Hook', 'x-gitlab-event-uuid': id() }],
      ['Bitbucket Cloud, no signature', { 'x-event-key': 'repo:push', 'x-request-uuid': id(), 'x-hook-uuid': id() }],
      ['Bitbucket Cloud, wrong signature', { 'x-event-key': 'repo:push', 'x-request-uuid': id(), 'x-hook-uuid': id(), 'x-hub-signature': `sha256=${hmac(json, 'wrong-secret')}` }],
      ['Bitbucket Data Center, no signature', { 'x-event-key': 'repo:refs_changed', 'x-request-id': id() }],
      ['Bitbucket Data Center, wrong signature', { 'x-event-key': 'repo:refs_changed', 'x-request-id': id(), 'x-hub-signature': `sha256=${hmac(json, 'wrong-secret')}` }],
    ];
    for (const [name, headers] of cases) expect((await send(headers)).status, name).toBe(403);
    expect(await (await fetch(`${served.url}/queue`)).json()).toMatchObject({ queue_length: 0, running: [] });
    expect(calls()).toEqual([]);
    expect(world.logText()).toMatch(/webhook refused \(403\): GitLab delivery with a wrong or missing token/);
    expect(world.logText()).toMatch(/webhook refused \(403\): Bitbucket Data Center delivery with a wrong or missing signature/);
  });

  it('#60 a client that sends past 1 MiB and on past 16 MiB gets 413 and is cut off, logged with its address; one that goes away mid-body changes nothing', async () => {
    const { world, calls } = await setup();
    const served = await startServe(world);
    const { hostname, port } = new URL(served.url);
    const raw = (onConnect: (s: Socket) => void) =>
      new Promise<string>((resolve) => {
        let text = '';
        const s = connect(Number(port), hostname, () => onConnect(s));
        s.on('data', (d: Buffer) => (text += d.toString('latin1')));
        s.on('error', () => undefined);
        s.on('close', () => resolve(text));
      });
    // 64 MiB in 1 MiB chunks, never ended: only the cut-off closes this connection.
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    let sent = 0;
    const flood = await raw((s) => {
      s.write('POST /webhook HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nx-github-event: push\r\n\r\n');
      const pump = (): void => {
        while (sent < 64 && !s.destroyed) {
          sent++;
          if (!s.write(frame)) return void s.once('drain', pump);
        }
      };
      pump();
    });
    expect(flood).toMatch(/^HTTP\/1\.1 413 /);
    expect(sent).toBeLessThan(64);
    // Expect: 100-continue: serve has the request when it answers; then the body stops half-way.
    await raw((s) => {
      s.write('POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\nexpect: 100-continue\r\nx-github-event: push\r\n\r\n');
      s.once('data', () => s.write('{"ref":', () => s.destroy()));
    });
    expect((await fetch(`${served.url}/healthz`)).status).toBe(200);
    await until(() => /webhook client 127\.0\.0\.1 went away mid-body; nothing queued/.test(world.logText()), 10_000, 'the aborted delivery in the log');
    expect(world.logText()).not.toMatch(/webhook handler failed/);
    expect(world.logText()).toMatch(/webhook refused: body over 1048576 bytes from 127\.0\.0\.1/);
    expect(await (await fetch(`${served.url}/queue`)).json()).toMatchObject({ queue_length: 0, running: [] });
    expect((await served.stop()).exitCode).toBe(0);
    expect(calls()).toEqual([]);
  });
});
