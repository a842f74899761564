/**
 * A real Git LFS API server on 127.0.0.1 (the batch API and basic downloads, as a forge's
 * or a separate LFS server's), serving the objects of a file:// LFS store (a bare
 * repository's `lfs/objects`). It can require HTTP Basic credentials or a token, records each
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

/**
 * `user`/`password`: require HTTP Basic credentials. `authorization`: require exactly this
 * Authorization header instead (read at each request, so a test can rotate it), as a forge
 * requires the `RemoteAuth` or `Bearer` token its `git-lfs-authenticate` hands out.
 */
export async function startLfsHttp(storeBare: string, opts: { user?: string; password?: string; authorization?: () => string; watch?: string } = {}): Promise<LfsHttpServer> {
  const basic = opts.user !== undefined ? `Basic ${Buffer.from(`${opts.user}:${opts.password ?? ''}`).toString('base64')}` : undefined;
  const required = opts.authorization ?? (basic !== undefined ? () => basic : undefined);
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
      if (required !== undefined && req.headers.authorization !== required()) {
        res.writeHead(401, { 'lfs-authenticate': 'Basic realm="lfs"', 'content-type': 'application/vnd.git-lfs+json' }).end('{"message":"credentials required"}');
        return;
      }
      // A forge's token authorises the downloads too: the batch answer hands it on with each
      // download link (GitLab's does so; GitHub's links are signed URLs instead).
      const header = opts.authorization ? { Authorization: opts.authorization() } : undefined;
      if (serveLfsApi(storeBare, '/lfs', base, req, res, Buffer.concat(chunks), header)) return;
      res.writeHead(404).end();
    });
  });
  base = `http://127.0.0.1:${await listenUntilTestEnds(server)}/lfs`;
  return { url: base, requests, exposed };
}

/**
 * The LFS batch API and basic downloads of the objects in `storeBare` (a bare repository's
 * `lfs/objects`) at `prefix` (`/lfs`, or `/<repo>.git/info/lfs` on a git server); `base` is
 * that prefix's absolute URL, for the download links; `header` goes with each download link.
 * True when it answered the request.
 */
export function serveLfsApi(storeBare: string, prefix: string, base: string, req: IncomingMessage, res: ServerResponse, body: Buffer, header?: Record<string, string>): boolean {
  const path = req.url ?? '/';
  const objectPath = (oid: string) => join(storeBare, 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
  if (req.method === 'POST' && path === `${prefix}/objects/batch`) {
    const request = JSON.parse(body.toString('utf8')) as { objects: Array<{ oid: string; size: number }> };
    const objects = request.objects.map(({ oid, size }) =>
      /^[0-9a-f]{64}$/.test(oid) && existsSync(objectPath(oid))
        ? { oid, size, actions: { download: { href: `${base}/objects/${oid}`, ...(header ? { header } : {}) } } }
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
