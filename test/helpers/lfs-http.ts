/**
 * A real Git LFS API server on 127.0.0.1 (the batch API and basic downloads, as a forge's
 * or a separate LFS server's), serving the objects of a file:// LFS store (a bare
 * repository's `lfs/objects`). It can require HTTP Basic credentials, records each
 * request's Authorization header, and, like git-http.ts, the command lines holding
 * `watch` while a request is open.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { commandLines, listenUntilTestEnds } from './git-http.js';

export interface LfsHttpServer {
  /** `http://127.0.0.1:<port>/lfs`, the LFS API URL (lfs.url), without credentials. */
  url: string;
  /** Every request: method, path and its Authorization header (undefined when none). */
  requests: Array<{ method: string; path: string; authorization?: string }>;
  /** Command lines (NULs as spaces) that contained `watch` while a request was open. */
  exposed: string[];
}

export async function startLfsHttp(storeBare: string, opts: { user?: string; password?: string; watch?: string } = {}): Promise<LfsHttpServer> {
  const expected = opts.user !== undefined ? `Basic ${Buffer.from(`${opts.user}:${opts.password ?? ''}`).toString('base64')}` : undefined;
  const requests: LfsHttpServer['requests'] = [];
  const exposed: string[] = [];
  let base = '';
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const watch = opts.watch;
    if (watch) exposed.push(...commandLines().filter((l) => l.includes(watch)));
    const path = req.url ?? '/';
    requests.push({ method: req.method ?? '', path, authorization: req.headers.authorization });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (expected !== undefined && req.headers.authorization !== expected) {
        res.writeHead(401, { 'lfs-authenticate': 'Basic realm="lfs"', 'content-type': 'application/vnd.git-lfs+json' }).end('{"message":"credentials required"}');
        return;
      }
      if (serveLfsApi(storeBare, '/lfs', base, req, res, Buffer.concat(chunks))) return;
      res.writeHead(404).end();
    });
  });
  base = `http://127.0.0.1:${await listenUntilTestEnds(server)}/lfs`;
  return { url: base, requests, exposed };
}

/**
 * The LFS batch API and basic downloads of the objects in `storeBare` (a bare repository's
 * `lfs/objects`) at `prefix` (`/lfs`, or `/<repo>.git/info/lfs` on a git server); `base` is
 * that prefix's absolute URL, for the download links. True when it answered the request.
 */
export function serveLfsApi(storeBare: string, prefix: string, base: string, req: IncomingMessage, res: ServerResponse, body: Buffer): boolean {
  const path = req.url ?? '/';
  const objectPath = (oid: string) => join(storeBare, 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
  if (req.method === 'POST' && path === `${prefix}/objects/batch`) {
    const request = JSON.parse(body.toString('utf8')) as { objects: Array<{ oid: string; size: number }> };
    const objects = request.objects.map(({ oid, size }) =>
      /^[0-9a-f]{64}$/.test(oid) && existsSync(objectPath(oid))
        ? { oid, size, actions: { download: { href: `${base}/objects/${oid}` } } }
        : { oid, size, error: { code: 404, message: 'not found' } },
    );
    res.writeHead(200, { 'content-type': 'application/vnd.git-lfs+json' }).end(JSON.stringify({ transfer: 'basic', objects }));
    return true;
  }
  const get = path.startsWith(`${prefix}/objects/`) ? /^([0-9a-f]{64})$/.exec(path.slice(prefix.length + '/objects/'.length)) : null;
  if (req.method === 'GET' && get?.[1] && existsSync(objectPath(get[1]))) {
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(objectPath(get[1])));
    return true;
  }
  return false;
}
