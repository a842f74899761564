/**
 * A real HTTP health endpoint on 127.0.0.1 for a test: answers 200 "ok" while the file
 * it watches (e.g. `<path>/current/status`, shipped by the deployed commit) says "ok",
 * and 503 "broken: <content>" otherwise, so pushing a commit can break or fix health.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';

export interface HealthServer {
  url: string;
  /** Requests answered so far. */
  hits(): number;
}

export async function startHealthServer(statusFile: string): Promise<HealthServer> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    let content = '';
    try {
      content = readFileSync(statusFile, 'utf8').trim();
    } catch {
      content = '(no status file)';
    }
    const ok = content === 'ok';
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(ok ? 'ok\n' : `broken: ${content}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/healthz`, hits: () => hits };
}
