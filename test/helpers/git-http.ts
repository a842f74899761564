/**
 * A real git smart-HTTP server on 127.0.0.1: `git http-backend` (CGI) behind a tiny
 * node server, serving one origin's bare repo and requiring HTTP Basic credentials.
 * While each request is open, the git that sent it is waiting for the answer, so the
 * server also reads every process's /proc/<pid>/cmdline then: what `ps` would show any
 * local user at that moment.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname } from 'node:path';
import { onTestFinished } from 'vitest';
import { serveLfsApi } from './lfs-http.js';
import type { Origin } from './origin.js';

export interface GitHttpServer {
  /** `http://127.0.0.1:<port>/origin.git`, without credentials. */
  url: string;
  /** Authorization headers received, in order (undefined when a request had none). */
  authorizations: (string | undefined)[];
  /** Command lines (NUL turned into spaces) that contained `watch` while a request was open. */
  exposed: string[];
}

/** Listens on a free port of 127.0.0.1 until the test ends; the port. */
export async function listenUntilTestEnds(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** Every process's command line right now (those we may read), NULs as spaces. */
export function commandLines(): string[] {
  const lines: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      lines.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
    } catch {
      // gone between readdir and read
    }
  }
  return lines;
}

/**
 * `lfs`: also the Git LFS API of the origin's own store (`git lfs push` to its file://
 * URL) at `/<name>.git/info/lfs`, the endpoint git-lfs derives from the repo URL, as a
 * forge serves it, behind the same credentials.
 */
export async function startGitHttp(origin: Origin, user: string, password: string, watch: string, opts: { lfs?: boolean } = {}): Promise<GitHttpServer> {
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const authorizations: (string | undefined)[] = [];
  const exposed: string[] = [];
  const lfsPrefix = `/${basename(origin.bare)}/info/lfs`;
  let root = '';
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    exposed.push(...commandLines().filter((l) => l.includes(watch)));
    authorizations.push(req.headers.authorization);
    if (req.headers.authorization !== expected) {
      req.resume();
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"', 'lfs-authenticate': 'Basic realm="git"' }).end('credentials required\n');
      return;
    }
    if (opts.lfs && (req.url ?? '').startsWith(`${lfsPrefix}/`)) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (!serveLfsApi(origin.bare, lfsPrefix, `${root}${lfsPrefix}`, req, res, Buffer.concat(chunks))) res.writeHead(404).end();
      });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        ...origin.env,
        GIT_PROJECT_ROOT: dirname(origin.bare),
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_USER: user,
        REMOTE_ADDR: '127.0.0.1',
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin);
    const chunks: Buffer[] = [];
    cgi.stdout.on('data', (c: Buffer) => chunks.push(c));
    cgi.on('close', () => {
      const out = Buffer.concat(chunks);
      const split = out.indexOf('\r\n\r\n');
      const headerText = out.subarray(0, split).toString('latin1');
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of headerText.split('\r\n')) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === 'status') status = Number(value.split(' ')[0]);
        else if (name) headers[name] = value;
      }
      res.writeHead(status, headers).end(out.subarray(split + 4));
    });
  });
  root = `http://127.0.0.1:${await listenUntilTestEnds(server)}`;
  return { url: `${root}/${basename(origin.bare)}`, authorizations, exposed };
}
