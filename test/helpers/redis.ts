/**
 * A real redis-server for one test file: `redis-server --port <free> --bind 127.0.0.1` with
 * no persistence, as a child of the test worker, stopped by its PID. stop()/start() keep
 * the port, so a test can take Redis away from a fleet and give it back.
 *
 *   describe.skipIf(requireBinary('redis-server'))('a fleet', () => { ... });
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { onTestFinishedIfInTest } from './origin.js';
import { findBinary } from './require-env.js';
import { freePort } from './sshd.js';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly pid: number | undefined;
  /** SIGTERM to our PID and await its exit (SIGKILL after 3 s). Idempotent. */
  stop(): Promise<void>;
  /** Starts again on the same port (empty: no persistence). */
  start(): Promise<void>;
  /** Sends one inline command and returns the raw reply, e.g. `command('DBSIZE')`. */
  command(line: string): Promise<string>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) if (child.pid) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
});

export async function startRedis(opts: { password?: string } = {}): Promise<RedisServer> {
  const binary = findBinary('redis-server');
  if (!binary) throw new Error('redis-server not found (install the redis-server package)');
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const c = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning', ...(opts.password ? ['--requirepass', opts.password] : [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    running.add(c);
    c.once('exit', () => running.delete(c));
    let output = '';
    c.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    c.unref();
    const deadline = Date.now() + 5000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`redis-server exited with ${c.exitCode}: ${output}`);
      try {
        // With requirepass an unauthenticated PING answers -NOAUTH: listening all the same.
        if (/^(\+PONG|-NOAUTH)/.test(await command('PING'))) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${port} within 5 s: ${output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, 'exit');
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };

  const command = (line: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let reply = '';
      socket.setTimeout(2000, () => socket.destroy(new Error('timeout')));
      socket.on('connect', () => socket.write(`${line}\r\n`));
      socket.on('data', (d) => {
        reply += d.toString();
        if (reply.endsWith('\r\n')) socket.end();
      });
      socket.on('end', () => resolve(reply));
      socket.on('error', reject);
    });

  await start();
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    get pid() {
      return child?.pid;
    },
    stop,
    start,
    command,
  };
  onTestFinishedIfInTest(stop);
  return server;
}
