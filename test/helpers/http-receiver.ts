/**
 * A real HTTP server on 127.0.0.1 standing in for Slack, a webhook relay or
 * healthchecks.io: records every request, can be told to answer slowly or with an
 * error, and is closed (with its open connections) when the test finishes.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';

export interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface Receiver {
  url: string;
  requests: Received[];
  /** Answers requests to paths starting with `prefix` after `delayMs` with `status`. */
  behave(prefix: string, how: { delayMs?: number; status?: number }): void;
  /** Resolves once `count` requests have arrived (bounded). */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
}

export async function startReceiver(): Promise<Receiver> {
  const requests: Received[] = [];
  const rules: Array<[string, { delayMs?: number; status?: number }]> = [];
  const waiters = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      requests.push({ method: req.method ?? '', path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      for (const w of waiters) w();
      const rule = rules.find(([prefix]) => path.startsWith(prefix))?.[1] ?? {};
      const answer = () => {
        if (!res.destroyed) res.writeHead(rule.status ?? 200, { 'content-type': 'text/plain' }).end('ok');
      };
      if (rule.delayMs) {
        const t = setTimeout(answer, rule.delayMs);
        timers.add(t);
      } else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    behave(prefix, how) {
      rules.unshift([prefix, how]);
    },
    waitFor(count, timeoutMs = 10_000) {
      if (requests.length >= count) return Promise.resolve(requests.slice());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`expected ${count} requests, got ${requests.length}`));
        }, timeoutMs);
        const check = () => {
          if (requests.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(requests.slice());
        };
        waiters.add(check);
      });
    },
  };
}
