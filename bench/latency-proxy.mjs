#!/usr/bin/env node
// A latency-injecting TCP proxy for the bench (issue 17 goal 3): listens on
// 127.0.0.1:LISTEN and forwards to 127.0.0.1:TARGET, holding every chunk DELAY_MS in
// each direction (2 x DELAY_MS round trip). Loopback only, bounded: at most
// MAX_CONNECTIONS at once (more are refused), a connection whose undelivered bytes pass
// MAX_BUFFER is closed, and the whole proxy exits after LIFETIME_MS or on SIGTERM.
// Prints "ready" on stdout once listening.
import { createServer, connect } from 'node:net';

const LISTEN = Number(process.env.LISTEN);
const TARGET = Number(process.env.TARGET);
const DELAY_MS = Number(process.env.DELAY_MS ?? 20);
const MAX_CONNECTIONS = 256;
const MAX_BUFFER = 16 * 1024 * 1024;
const LIFETIME_MS = Number(process.env.LIFETIME_MS ?? 30 * 60_000);

function pipeDelayed(from, to, state) {
  from.on('data', (chunk) => {
    state.pending += chunk.length;
    if (state.pending > MAX_BUFFER) {
      from.destroy();
      to.destroy();
      return;
    }
    setTimeout(() => {
      state.pending -= chunk.length;
      if (!to.destroyed) to.write(chunk);
    }, DELAY_MS);
  });
  // An end is delivered after the data before it.
  from.on('end', () => setTimeout(() => to.end(), DELAY_MS));
  from.on('error', () => to.destroy());
}

const server = createServer((client) => {
  const upstream = connect({ host: '127.0.0.1', port: TARGET });
  const state = { pending: 0 };
  pipeDelayed(client, upstream, state);
  pipeDelayed(upstream, client, state);
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});
server.maxConnections = MAX_CONNECTIONS;
server.listen(LISTEN, '127.0.0.1', () => process.stdout.write('ready\n'));
setTimeout(() => process.exit(0), LIFETIME_MS).unref();
process.on('SIGTERM', () => process.exit(0));
