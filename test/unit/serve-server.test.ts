/**
 * The webhook listener over real HTTP on 127.0.0.1 (an ephemeral port): what a forge,
 * a prober or an attacker gets back for each request, and what reaches the work queue.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { loggedRecords } from '../helpers/log-file.js';
import type { Target } from '../../src/config/normalise.js';
import { log } from '../../src/log/logger.js';
import { DeliveryMemory } from '../../src/serve/deliveries.js';
import { DEFAULT_LISTEN, parseListen } from '../../src/serve/listen.js';
import { targetLocation } from '../../src/serve/match.js';
import { CycleQueue } from '../../src/serve/queue.js';
import { MAX_BODY_BYTES, startWebhookServer } from '../../src/serve/server.js';

const SECRET = 'server-test-secret-0123';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/**
 * Client connections still open when a test ends: destroyed before its server closes, so
 * a test that failed with a request in flight (a mutant that never answers) does not
 * hold close() until the hook times out.
 */
const openClients = new Set<{ destroy(): void }>();

function send(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
      });
    });
    req.on('error', reject);
    openClients.add(req);
    req.on('close', () => openClients.delete(req));
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

const target = (name: string, repo: string, extra: Partial<Target> = {}) => ({ target: { name, repo, branch: 'main', ...extra } as Target, location: targetLocation(repo)! });

async function setup(opts: { allow?: string[]; hold?: boolean; targets?: ReturnType<typeof target>[] } = {}) {
  const stateDir = mkdtempSync(join(tmpdir(), 'pollpray-serve-'));
  onTestFinished(() => rmSync(stateDir, { recursive: true, force: true }));
  const ran: string[] = [];
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  const queue = new CycleQueue(1, async (t) => {
    ran.push(t);
    if (opts.hold) await held;
  });
  const server = await startWebhookServer({
    host: '127.0.0.1',
    port: 0,
    secret: SECRET,
    allow: opts.allow ?? ['github.com/acme/*'],
    targets: opts.targets ?? [target('todo', 'git@github.com:acme/todo.git'), target('todo-staging', 'git@github.com:acme/todo.git', { branch: 'staging' }), target('shop', 'git@github.com:acme/shop.git')],
    queue,
    deliveries: new DeliveryMemory(stateDir),
  });
  onTestFinished(async () => {
    for (const c of openClients) c.destroy();
    release();
    await queue.stop();
    await server.close();
  });
  return { server, queue, ran, release, stateDir };
}

function githubPush(repo: string, ref: string, id = randomUUID(), secret = SECRET): { headers: Record<string, string>; body: Buffer } {
  const body = Buffer.from(JSON.stringify({ ref, after: id, repository: { full_name: repo, html_url: `https://github.com/${repo}`, clone_url: `https://github.com/${repo}.git` } }));
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': id,
      'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    },
  };
}

// Every answer here takes milliseconds: a mutant that hangs a request fails in seconds, not the default 30.
vi.setConfig({ testTimeout: 10_000, hookTimeout: 10_000 });

describe('the webhook server', () => {
  it('listens where asked and answers GET /healthz; unknown paths are 404, other methods on /webhook 405 with Allow: POST', async () => {
    const { server } = await setup();
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
    const ok = await send(server.port, 'GET', '/healthz');
    expect(ok).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(ok.headers['content-type']).toBe('application/json');
    expect(await send(server.port, 'GET', '/nope')).toMatchObject({ status: 404, body: { error: 'not found (POST /webhook, GET /queue, GET /healthz)' } });
    expect(await send(server.port, 'POST', '/healthz')).toMatchObject({ status: 404 });
    expect(await send(server.port, 'POST', '/queue')).toMatchObject({ status: 404 });
    for (const path of ['/', '/webhook', '/webhook?x=1']) {
      const r = await send(server.port, 'GET', path);
      expect(r).toMatchObject({ status: 405, body: { error: 'deliveries are POSTed' } });
      expect(r.headers.allow).toBe('POST');
    }
  });

  it('a signed push to / or /webhook queues each target following that branch, once; a redelivery and a replay are duplicates', async () => {
    const { server, ran, queue } = await setup({ hold: true });
    const push = githubPush('acme/todo', 'refs/heads/main', 'delivery-1');
    const r = await send(server.port, 'POST', '/webhook?from=github', push.headers, push.body);
    expect(r).toMatchObject({ status: 202, body: { status: 'queued', targets: ['todo'], delivery: 'delivery-1' } });
    expect(ran).toEqual(['todo']);

    const again = await send(server.port, 'POST', '/', push.headers, push.body);
    expect(again).toMatchObject({ status: 200, body: { status: 'duplicate', delivery: 'delivery-1' } });
    // The same signed body under a new id: a captured delivery replayed.
    const replay = await send(server.port, 'POST', '/', { ...push.headers, 'x-github-delivery': 'delivery-2' }, push.body);
    expect(replay).toMatchObject({ status: 200, body: { status: 'duplicate', delivery: 'delivery-2' } });

    // While todo runs, a new push queues it once more; a third push finds it already waiting.
    const p2 = githubPush('acme/todo', 'refs/heads/main', 'delivery-3');
    expect(await send(server.port, 'POST', '/', p2.headers, Buffer.concat([p2.body, Buffer.from(' ')])).then((x) => x.status)).toBe(403);
    expect((await send(server.port, 'POST', '/', p2.headers, p2.body)).body).toMatchObject({ status: 'queued', targets: ['todo'] });
    const q = await send(server.port, 'GET', '/queue');
    expect(q.status).toBe(200);
    expect(q.body).toMatchObject({ queue_length: 1, queue: [{ target: 'todo', delivery: 'delivery-3' }], running: [{ target: 'todo', delivery: 'delivery-1' }] });
    const p3 = githubPush('acme/todo', 'refs/heads/main', 'delivery-4');
    expect((await send(server.port, 'POST', '/', p3.headers, p3.body)).body).toMatchObject({ status: 'queued', targets: ['todo'] });
    expect(queue.snapshot().queue_length).toBe(1);
  });

  it('after a restart the same delivery is still a duplicate (remembered in the state dir)', async () => {
    const { server, stateDir } = await setup();
    const push = githubPush('acme/todo', 'refs/heads/staging', 'delivery-9');
    expect((await send(server.port, 'POST', '/', push.headers, push.body)).body).toMatchObject({ status: 'queued', targets: ['todo-staging'] });
    expect(new DeliveryMemory(stateDir).seen('delivery-9', 'x')).toBe('id');
  });

  it('a push of an untracked branch of a known repository is ignored (202) and not remembered', async () => {
    const { server, ran } = await setup();
    const push = githubPush('acme/todo', 'refs/heads/feature', 'delivery-f');
    expect(await send(server.port, 'POST', '/', push.headers, push.body)).toMatchObject({ status: 202, body: { status: 'ignored', reason: 'no target follows acme/todo refs/heads/feature' } });
    expect(ran).toEqual([]);
    const main = githubPush('acme/todo', 'refs/heads/main', 'delivery-f');
    expect((await send(server.port, 'POST', '/', main.headers, main.body)).body).toMatchObject({ status: 'queued' });
  });

  it('refuses a wrong signature (403), a repository outside serve.allow or without a target (404), and answers pings and other events', async () => {
    const { server, ran } = await setup({ allow: ['github.com/acme/todo', 'github.com/acme/blog'] });
    const forged = githubPush('acme/todo', 'refs/heads/main', randomUUID(), 'not-the-secret');
    expect(await send(server.port, 'POST', '/', forged.headers, forged.body)).toMatchObject({ status: 403, body: { error: 'GitHub delivery with a wrong or missing signature' } });
    const shop = githubPush('acme/shop', 'refs/heads/main');
    expect(await send(server.port, 'POST', '/', shop.headers, shop.body)).toMatchObject({ status: 404, body: { error: 'unknown repository acme/shop' } });
    const blog = githubPush('acme/blog', 'refs/heads/main');
    expect(await send(server.port, 'POST', '/', blog.headers, blog.body)).toMatchObject({ status: 404, body: { error: 'unknown repository acme/blog' } });
    expect(await send(server.port, 'POST', '/', {}, '{}')).toMatchObject({ status: 400 });

    const ping = githubPush('acme/todo', 'refs/heads/main');
    expect(await send(server.port, 'POST', '/', { ...ping.headers, 'x-github-event': 'ping' }, ping.body)).toMatchObject({ status: 200, body: { status: 'pong' } });
    expect(await send(server.port, 'POST', '/', { ...ping.headers, 'x-github-event': 'issues' }, ping.body)).toMatchObject({
      status: 202,
      body: { status: 'ignored', reason: 'event "issues" is not a push' },
    });
    expect(ran).toEqual([]);
  });

  it(`a body over ${MAX_BODY_BYTES} bytes gets 413 (declared or not) and queues nothing; exactly the limit is read`, async () => {
    const { server, ran } = await setup();
    const big = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20);
    const declared = await send(server.port, 'POST', '/', { 'content-type': 'application/json', 'x-github-event': 'push' }, big);
    expect(declared).toMatchObject({ status: 413, body: { error: `body larger than ${MAX_BODY_BYTES} bytes` } });
    expect(declared.headers.connection).toBe('close');
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, method: 'POST', path: '/', headers: { 'transfer-encoding': 'chunked', 'x-github-event': 'push' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(Buffer.alloc(MAX_BODY_BYTES / 2, 0x20));
      req.write(Buffer.alloc(MAX_BODY_BYTES / 2 + 1, 0x20));
      req.end();
    });
    expect(chunked).toBe(413);
    // A body of exactly the limit is read and judged on its signature (403), not refused for size.
    const push = githubPush('acme/todo', 'refs/heads/main');
    const padded = Buffer.concat([push.body, Buffer.alloc(MAX_BODY_BYTES - push.body.length, 0x20)]);
    expect((await send(server.port, 'POST', '/', push.headers, padded)).status).toBe(403);
    expect(ran).toEqual([]);
  });

  it('a malformed request line gets 400 and the server keeps serving', async () => {
    const { server } = await setup();
    const { connect } = await import('node:net');
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(server.port, '127.0.0.1', () => s.write('BROKEN\r\n\r\n'));
      let text = '';
      s.on('data', (d) => (text += d.toString()));
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect((await send(server.port, 'GET', '/healthz')).status).toBe(200);
  });

  it('a port already in use is an error at start, not a silent second listener', async () => {
    const { server } = await setup();
    const queue = new CycleQueue(1, async () => undefined);
    const dir = mkdtempSync(join(tmpdir(), 'pollpray-serve-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    await expect(
      startWebhookServer({ host: '127.0.0.1', port: server.port, secret: SECRET, allow: [], targets: [], queue, deliveries: new DeliveryMemory(dir) }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('what the operator reads in the log', () => {
  async function logged(run: (port: number) => Promise<void>, opts: { allow?: string[]; targets?: ReturnType<typeof target>[] } = {}): Promise<string[]> {
    const records = await loggedRecords(async () => {
      const { server } = await setup({ hold: true, ...opts });
      await run(server.port);
    });
    return records.map((l) => `${l.level} ${l.step}: ${l.message}`);
  }

  it('each refusal, duplicate and queueing is one line naming why, the sender and the repository', async () => {
    const lines = await logged(async (port) => {
      await send(port, 'POST', '/', { 'x-github-event': 'push', 'content-type': 'application/json' }, Buffer.alloc(MAX_BODY_BYTES + 1, 0x20));
      const forged = githubPush('acme/todo', 'refs/heads/main', 'd-forged', 'wrong-secret');
      await send(port, 'POST', '/', forged.headers, forged.body);
      const shop = githubPush('acme/shop', 'refs/heads/main', 'd-shop');
      await send(port, 'POST', '/', shop.headers, shop.body);
      const blog = githubPush('acme/blog', 'refs/heads/main', 'd-blog');
      await send(port, 'POST', '/', blog.headers, blog.body);
      const push = githubPush('acme/todo', 'refs/heads/main', 'd-1');
      await send(port, 'POST', '/', push.headers, push.body);
      await send(port, 'POST', '/', push.headers, push.body);
      await send(port, 'POST', '/', { ...push.headers, 'x-github-delivery': 'd-2' }, push.body);
      const second = githubPush('acme/todo', 'refs/heads/main', 'd-3');
      await send(port, 'POST', '/', second.headers, second.body);
      const third = githubPush('acme/todo', 'refs/heads/main', 'd-4');
      await send(port, 'POST', '/', third.headers, third.body);
    }, { allow: ['github.com/acme/todo', 'github.com/acme/blog'] });
    expect(lines).toEqual([
      `warn serve: webhook refused: body over ${MAX_BODY_BYTES} bytes from 127.0.0.1`,
      'warn serve: webhook refused (403): GitHub delivery with a wrong or missing signature from 127.0.0.1',
      'warn serve: webhook refused (404): repository acme/shop (github.com/acme/shop, github.com/acme/shop) is not in serve.allow',
      "warn serve: webhook refused (404): repository acme/blog (github.com/acme/blog, github.com/acme/blog) is allowed but no target deploys it (host and path must both match a target's repo)",
      'info serve: webhook GitHub push acme/todo refs/heads/main: queued todo',
      'info serve: webhook ignored: delivery d-1 was already handled',
      'info serve: webhook ignored: delivery d-2 repeats the body of one already handled (a replay)',
      'info serve: webhook GitHub push acme/todo refs/heads/main: queued todo',
      'info serve: webhook GitHub push acme/todo refs/heads/main: queued nothing new (already waiting)',
    ]);
  });

  it('a push of several refs names them all, and every target it queues', async () => {
    const update = (refs: string[]) => Buffer.from(JSON.stringify({ event_name: 'repository_update', refs, project: { path_with_namespace: 'acme/app', web_url: 'https://gitlab.com/acme/app' } }));
    const hook = (id: string) => ({ 'content-type': 'application/json', 'x-gitlab-event': 'System Hook', 'x-gitlab-token': SECRET, 'x-gitlab-event-uuid': id });
    const replies: Reply[] = [];
    const lines = await logged(
      async (port) => {
        replies.push(await send(port, 'POST', '/', hook('u-1'), update(['refs/heads/x', 'refs/heads/y'])));
        replies.push(await send(port, 'POST', '/', hook('u-2'), update(['refs/heads/main', 'refs/heads/staging'])));
      },
      { allow: ['gitlab.com/acme/app'], targets: [target('app', 'https://gitlab.com/acme/app.git'), target('app-staging', 'https://gitlab.com/acme/app.git', { branch: 'staging' })] },
    );
    expect(replies).toMatchObject([
      { status: 202, body: { status: 'ignored', reason: 'no target follows acme/app refs/heads/x refs/heads/y' } },
      { status: 202, body: { status: 'queued', targets: ['app', 'app-staging'], delivery: 'u-2' } },
    ]);
    expect(lines).toEqual(['info serve: webhook GitLab push acme/app refs/heads/main refs/heads/staging: queued app, app-staging']);
  });

  it('a delivery that cannot be remembered (state dir not writable) is a 500, logged, and queues nothing', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'pollpray-serve-ro-'));
    onTestFinished(() => rmSync(stateDir, { recursive: true, force: true }));
    const ran: string[] = [];
    const lines = await logged(async () => {
      const queue = new CycleQueue(1, async (t) => void ran.push(t));
      const deliveries = new DeliveryMemory(stateDir);
      writeFileSync(join(stateDir, 'serve'), 'a file where the directory should be');
      const server = await startWebhookServer({ host: '127.0.0.1', port: 0, secret: SECRET, allow: ['github.com/acme/todo'], targets: [target('todo', 'git@github.com:acme/todo.git')], queue, deliveries });
      onTestFinished(() => server.close());
      const push = githubPush('acme/todo', 'refs/heads/main', 'd-500');
      expect(await send(server.port, 'POST', '/', push.headers, push.body)).toMatchObject({ status: 500, body: { error: 'internal error (see the log)' } });
      expect((await send(server.port, 'GET', '/healthz')).status).toBe(200);
    });
    expect(ran).toEqual([]);
    expect(lines).toContain(`error serve: webhook handler failed: state directory ${stateDir} is not writable`);
  });
});

/** The next line the server logs at `level`, passed on to the log as usual. */
function nextLogLine(level: 'error' | 'warn'): Promise<string> {
  const original = log[level];
  return new Promise((resolve) => {
    const spy = vi.spyOn(log, level).mockImplementation((message, fields) => {
      original(message, fields);
      resolve(message);
    });
    onTestFinished(() => spy.mockRestore());
  });
}

/** A raw connection to the server, and everything it received once it closed. */
function rawClient(port: number, onConnect: (s: Socket) => void): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const s = connect(port, '127.0.0.1', () => onConnect(s));
    openClients.add(s);
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    // The server cutting the connection while we still send is an EPIPE/ECONNRESET here.
    s.on('error', () => undefined);
    s.on('close', () => {
      openClients.delete(s);
      resolve(text);
    });
  });
}

describe('a client that misbehaves mid-body', () => {
  it('a client that goes away mid-body is a warning with its address, and the server keeps serving', { timeout: 5_000 }, async () => {
    const { server, ran } = await setup();
    const failed = nextLogLine('warn');
    await rawClient(server.port, (s) => {
      // Expect: 100-continue: the server answers once it has the request, then the body starts and stops.
      s.write('POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\nexpect: 100-continue\r\nx-github-event: push\r\n\r\n');
      s.once('data', () => s.write('{"ref":', () => s.destroy()));
    });
    expect(await failed).toBe('webhook client 127.0.0.1 went away mid-body; nothing queued');
    expect((await send(server.port, 'GET', '/healthz')).status).toBe(200);
    expect(ran).toEqual([]);
  });

  it('a client that goes on sending past 16 MiB after the limit gets its 413 and is cut off; the server keeps serving', { timeout: 10_000 }, async () => {
    const { server, ran } = await setup();
    const refused = nextLogLine('warn');
    // An exception out of a request's handler would end `pollpray serve`: none may escape.
    const thrown: unknown[] = [];
    const onThrown = (e: unknown) => thrown.push(e);
    process.on('uncaughtException', onThrown);
    onTestFinished(() => void process.off('uncaughtException', onThrown));
    const frame = (() => {
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      return Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    })();
    // 64 MiB, never ended: only the cut-off closes this connection.
    let sent = 0;
    const answer = await rawClient(server.port, (s) => {
      s.write('POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nx-github-event: push\r\n\r\n');
      const pump = (): void => {
        while (sent < 64 && !s.destroyed) {
          sent++;
          if (!s.write(frame)) {
            s.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer.endsWith(`{"error":"body larger than ${MAX_BODY_BYTES} bytes"}\n`)).toBe(true);
    expect(sent).toBeLessThan(64);
    expect(thrown).toEqual([]);
    expect(await refused).toBe(`webhook refused: body over ${MAX_BODY_BYTES} bytes from 127.0.0.1`);
    expect((await send(server.port, 'GET', '/healthz')).status).toBe(200);
    expect(ran).toEqual([]);
  });
  it('a client over the limit but under 16 MiB is not answered or cut off while it still sends: its 413 comes once the body has ended', { timeout: 10_000 }, async () => {
    const { server, ran } = await setup();
    const MiB = 1024 * 1024;
    // Answering (and closing) mid-body would put an EPIPE under a client that only reads
    // once it has sent everything: during the pause, nothing may have come back.
    let duringPause: { received: string; closed: boolean } | undefined;
    let closed = false;
    const answer = await rawClient(server.port, (s) => {
      s.on('close', () => (closed = true));
      let received = '';
      s.on('data', (d: Buffer) => (received += d.toString('latin1')));
      s.write(`POST / HTTP/1.1\r\nhost: x\r\ncontent-length: ${4 * MiB}\r\nx-github-event: push\r\n\r\n`);
      s.write(Buffer.alloc(3 * MiB, 0x20), () => {
        setTimeout(() => {
          duringPause = { received, closed };
          if (!s.destroyed) s.write(Buffer.alloc(MiB, 0x20));
        }, 200);
      });
    });
    expect(duringPause).toEqual({ received: '', closed: false });
    expect(answer).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
    expect(ran).toEqual([]);
  });
});

describe('closing the server', () => {
  it('close() ends idle keep-alive connections and resolves; the port then refuses connections', { timeout: 4_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pollpray-serve-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const server = await startWebhookServer({ host: '127.0.0.1', port: 0, secret: SECRET, allow: [], targets: [], queue: new CycleQueue(1, async () => undefined), deliveries: new DeliveryMemory(dir) });
    // A keep-alive connection left idle (as a forge's HTTP client leaves it) must not hold close() for the 5 s keep-alive timeout.
    const agent = new Agent({ keepAlive: true });
    onTestFinished(() => agent.destroy());
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: '/healthz', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    await server.close();
    await expect(send(server.port, 'GET', '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('serve.listen', () => {
  it.each([
    ['127.0.0.1:9876', { host: '127.0.0.1', port: 9876 }],
    [' [::1]:80 ', { host: '::1', port: 80 }],
    ['0.0.0.0:65535', { host: '0.0.0.0', port: 65535 }],
    ['deploy-host.example:1', { host: 'deploy-host.example', port: 1 }],
    ['127.0.0.1:65536', undefined],
    ['127.0.0.1', undefined],
    ['127.0.0.1:123456', undefined],
    ['x127.0.0.1:80 y', undefined],
    ['[::1]x:80', undefined],
    ['host:80\n', { host: 'host', port: 80 }],
    ['a b:80', undefined],
    [':80', undefined],
  ])('%j → %j', (text, want) => {
    expect(parseListen(text)).toEqual(want);
  });

  it('defaults to loopback', () => {
    expect(parseListen(DEFAULT_LISTEN)).toEqual({ host: '127.0.0.1', port: 9876 });
  });
});
