/**
 * The HTTP side of `pollpray serve` (node:http only). POST / or /webhook takes a
 * delivery; GET /queue shows the work queue; GET /healthz says it is up. Every bad
 * request gets its status code and a log line, and nothing a client sends can crash
 * the server or stall the queue.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { log } from '../log/logger.js';
import type { DeliveryMemory } from './deliveries.js';
import { FORGE_NAMES, readDelivery } from './forge.js';
import { repoAllowed, targetsForPush, targetsOfRepository, type LocatedTarget } from './match.js';
import type { CycleQueue } from './queue.js';

/** Push payloads are capped at 25 commits by the forges; 1 MiB is ample and bounds memory. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface WebhookServerOptions {
  host: string;
  port: number;
  secret: string;
  allow: readonly string[];
  /** Each target with where it fetches from (ssh aliases already resolved). */
  targets: readonly LocatedTarget[];
  queue: CycleQueue;
  deliveries: DeliveryMemory;
}

export interface WebhookServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** What a client may still send after the limit before the connection is cut. */
const MAX_DISCARD_BYTES = 16 * 1024 * 1024;

/**
 * The body, or undefined when it passed the limit. Then the rest is read and thrown
 * away and 413 is sent once the request has ended: answering while the client is
 * still sending would close the socket under it (EPIPE) and it would never see the
 * 413. A client that goes on past MAX_DISCARD_BYTES is cut off.
 */
function readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES;
    const refuse = () => {
      res.setHeader('connection', 'close');
      reply(res, 413, { error: `body larger than ${MAX_BODY_BYTES} bytes` });
      resolve(undefined);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooBig = true;
      if (!tooBig) chunks.push(chunk);
      else if (size > MAX_DISCARD_BYTES) {
        refuse();
        req.destroy();
      }
    });
    req.on('end', () => (tooBig ? refuse() : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

async function handleDelivery(req: IncomingMessage, res: ServerResponse, opts: WebhookServerOptions): Promise<void> {
  // Read before the body: a client cut off for sending too much has no address afterwards.
  const from = req.socket.remoteAddress ?? '?';
  let body: Buffer | undefined;
  try {
    body = await readBody(req, res);
  } catch (err) {
    // The sender's doing, not serve's: a warning with its address, and no answer to a socket that is gone.
    if (req.destroyed && (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
      log.warn(`webhook client ${from} went away mid-body; nothing queued`, { step: 'serve' });
      return;
    }
    throw err;
  }
  if (!body) {
    log.warn(`webhook refused: body over ${MAX_BODY_BYTES} bytes from ${from}`, { step: 'serve' });
    return;
  }
  const delivery = readDelivery(req.headers, body, opts.secret);
  if (delivery.kind === 'rejected') {
    log.warn(`webhook refused (${delivery.status}): ${delivery.reason} from ${from}`, { step: 'serve' });
    return reply(res, delivery.status, { error: delivery.reason });
  }
  if (delivery.kind === 'ping') return reply(res, 200, { status: 'pong' });
  if (delivery.kind !== 'push') return reply(res, 202, { status: 'ignored', reason: `event "${delivery.event}" is not a push` });

  const where = `${delivery.repo} (${delivery.locations.map((l) => `${l.host}/${l.path}`).join(', ')})`;
  const unknown = !repoAllowed(opts.allow, delivery.locations)
    ? 'is not in serve.allow'
    : targetsOfRepository(opts.targets, delivery.locations).length === 0
      ? 'is allowed but no target deploys it (host and path must both match a target\'s repo)'
      : undefined;
  if (unknown) {
    log.warn(`webhook refused (404): repository ${where} ${unknown}`, { step: 'serve' });
    return reply(res, 404, { error: `unknown repository ${delivery.repo}` });
  }
  const repeated = opts.deliveries.seen(delivery.deliveryId, delivery.digest);
  if (repeated) {
    const what = repeated === 'id' ? `delivery ${delivery.deliveryId} was already handled` : `delivery ${delivery.deliveryId} repeats the body of one already handled (a replay)`;
    log.info(`webhook ignored: ${what}`, { step: 'serve' });
    return reply(res, 200, { status: 'duplicate', delivery: delivery.deliveryId });
  }
  const targets = targetsForPush(opts.targets, delivery.locations, delivery.refs);
  const refs = delivery.refs.join(' ');
  if (targets.length === 0) {
    // Allowed repository, untracked ref (a feature branch): nothing to do, not an error.
    return reply(res, 202, { status: 'ignored', reason: `no target follows ${delivery.repo} ${refs}` });
  }
  opts.deliveries.remember(delivery.deliveryId, delivery.digest);
  // Only target names go on: the cycle asks the remote what to deploy.
  const queued = targets.filter((t) => opts.queue.add(t.name, delivery.deliveryId)).map((t) => t.name);
  log.info(`webhook ${FORGE_NAMES[delivery.forge]} push ${delivery.repo} ${refs}: queued ${queued.join(', ') || 'nothing new (already waiting)'}`, {
    step: 'serve',
  });
  reply(res, 202, { status: 'queued', targets: targets.map((t) => t.name), delivery: delivery.deliveryId });
}

function handle(req: IncomingMessage, res: ServerResponse, opts: WebhookServerOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/healthz') {
    reply(res, 200, { status: 'ok' });
    return Promise.resolve();
  }
  if (req.method === 'GET' && path === '/queue') {
    reply(res, 200, opts.queue.snapshot());
    return Promise.resolve();
  }
  if (path === '/' || path === '/webhook') {
    if (req.method === 'POST') return handleDelivery(req, res, opts);
    res.setHeader('allow', 'POST');
    reply(res, 405, { error: 'deliveries are POSTed' });
    return Promise.resolve();
  }
  reply(res, 404, { error: 'not found (POST /webhook, GET /queue, GET /healthz)' });
  return Promise.resolve();
}

export function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const server: Server = createServer((req, res) => {
    handle(req, res, opts).catch((err: unknown) => {
      log.error(`webhook handler failed: ${err instanceof Error ? err.message : String(err)}`, { step: 'serve' });
      reply(res, 500, { error: 'internal error (see the log)' });
    });
  });
  // A slow or silent client must not hold a connection open for long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  // A request node:http cannot parse gets Node's own answer (400, 431 for oversized
  // headers, 408 for a timeout) and the connection is closed: no 'clientError' handler.
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      resolve({
        host: address.address,
        port: address.port,
        close: () =>
          // Node 20's close() also ends idle keep-alive connections.
          new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
