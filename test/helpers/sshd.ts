/**
 * A real OpenSSH server for one test: `/usr/sbin/sshd -D` as the current user on 127.0.0.1 and a
 * free port, with its own ed25519 host key, its own authorized_keys and a log file, all in a temp
 * dir. Clients use `sshArgs()` (no ~/.ssh, no agent, strict host key checking against
 * `knownHostsFile`).
 *
 * Lifetime: stop() is registered with onTestFinished when started inside a test. The child is
 * unref'd (never keeps the runner alive), started under `setpriv --pdeathsig KILL` when available
 * (dies with the worker even on SIGKILL), and killed by PID from a process 'exit' handler.
 */
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { findBinary } from './require-env.js';
import { onTestFinishedIfInTest } from './origin.js';

export const SSHD = '/usr/sbin/sshd';

export interface SshdOptions {
  /** Authorize `clientKey` at start (default true). */
  authorizeClient?: boolean;
  /** Extra sshd_config lines, appended last. */
  extraConfig?: string[];
  /** Bound on waiting for "Server listening" (default 5000 ms). */
  readyTimeoutMs?: number;
}

export interface Sshd {
  readonly host: '127.0.0.1';
  /** Fixed for the life of the fixture, also across stop()/start() and regenerateHostKey(). */
  readonly port: number;
  /** os.userInfo().username: sshd runs as this user and only it can log in. */
  readonly user: string;
  /** Temp dir holding config, keys, authorized_keys and the log. */
  readonly dir: string;
  /** Current host public key, "ssh-ed25519 AAAA…" (no comment). Changes on regenerateHostKey(). */
  hostKeyPub: string;
  /** Current "[127.0.0.1]:PORT ssh-ed25519 AAAA…". Changes on regenerateHostKey(). */
  knownHostsLine: string;
  /**
   * File with the known_hosts line written at start: what a client "remembered". NOT rewritten by
   * regenerateHostKey(), so strict clients now see a changed host key; trustCurrentHostKey()
   * rewrites it.
   */
  readonly knownHostsFile: string;
  /** Private key path (0600), authorized by default. `clientKeyPub` is its .pub. */
  readonly clientKey: string;
  readonly clientKeyPub: string;
  /** A second keypair that is never authorized unless you authorize() it. */
  readonly wrongKey: string;
  readonly wrongKeyPub: string;
  /** PID of the running sshd listener, undefined when stopped. */
  readonly pid: number | undefined;
  /** Appends the public key file's line to authorized_keys. */
  authorize(pubKeyPath: string): void;
  /** Removes that key from authorized_keys, or every key when called without one. */
  deauthorize(pubKeyPath?: string): void;
  /** Rewrites knownHostsFile with the current knownHostsLine. */
  trustCurrentHostKey(): void;
  /** Stops, makes a new host key, starts again on the same port. */
  regenerateHostKey(): Promise<void>;
  /** SIGTERM to our PID, awaits its exit (SIGKILL after 3 s). Idempotent. */
  stop(): Promise<void>;
  /** Starts again after stop(), same port and keys. */
  start(): Promise<void>;
  /** stop() and remove the temp dir; registered with onTestFinished when started inside a test. */
  cleanup(): Promise<void>;
  /** Number of "Accepted publickey" lines in the log (successful logins). */
  acceptedConnections(): Promise<number>;
  /** Number of "Connection from" lines in the log (TCP connections, accepted or not). */
  connections(): Promise<number>;
  logText(): string;
  /** ssh client options without port or destination: `ssh ...sshArgs() -p PORT user@127.0.0.1 cmd`. */
  sshArgs(key?: string): string[];
  /** The same as one shell string for GIT_SSH_COMMAND (git adds -p from an ssh:// URL). */
  sshCommand(key?: string): string;
  /** `ssh://user@127.0.0.1:PORT/abs/path` for an absolute path on this machine. */
  repoUrl(absPath: string): string;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });
}

/** A port that was free a moment ago on 127.0.0.1 (callers retry if sshd cannot bind it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port from listen(0)');
  return address.port;
}

async function keygen(path: string, comment: string): Promise<void> {
  rmSync(path, { force: true });
  rmSync(`${path}.pub`, { force: true });
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path], { stdin: 'ignore' });
}

function pubLine(pubPath: string): string {
  const [type, key] = readFileSync(pubPath, 'utf8').trim().split(/\s+/);
  if (!type || !key) throw new Error(`unreadable public key ${pubPath}`);
  return `${type} ${key}`;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

class BindConflict extends Error {}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 5_000;
  const user = userInfo().username;
  const isRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-sshd-'));
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  const wrongKey = join(dir, 'wrong_ed25519');
  const authorizedKeys = join(dir, 'authorized_keys');
  const knownHostsFile = join(dir, 'known_hosts');
  const config = join(dir, 'sshd_config');
  const logFile = join(dir, 'sshd.log');
  const stderrFile = join(dir, 'sshd.stderr');
  const setpriv = findBinary('setpriv');

  let child: ChildProcess | undefined;
  let port = 0;
  let removed = false;

  // sshd as root insists on its privilege-separation chroot dir.
  if (isRoot) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  await Promise.all([keygen(hostKey, 'pollpray-test-host'), keygen(clientKey, 'pollpray-test-client'), keygen(wrongKey, 'pollpray-test-wrong')]);
  writeFileSync(authorizedKeys, opts.authorizeClient === false ? '' : `${pubLine(`${clientKey}.pub`)}\n`, { mode: 0o600 });

  const writeConfig = (): void => {
    const lines = [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      'AddressFamily inet',
      `HostKey ${hostKey}`,
      'PidFile none',
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'LogLevel VERBOSE',
      `PermitRootLogin ${isRoot ? 'prohibit-password' : 'no'}`,
      'PrintMotd no',
      'PrintLastLog no',
      'UseDNS no',
      'MaxStartups 100:30:200',
      'MaxSessions 100',
      ...(opts.extraConfig ?? []),
    ];
    writeFileSync(config, `${lines.join('\n')}\n`, { mode: 0o600 });
  };

  const logText = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const stderrText = (): string => (existsSync(stderrFile) ? readFileSync(stderrFile, 'utf8') : '');

  /** One attempt to run sshd on `port`; resolves when it listens, rejects with BindConflict on EADDRINUSE. */
  const launch = async (): Promise<void> => {
    writeConfig();
    const logStart = logText().length;
    const out = openSync(stderrFile, 'a');
    const argv = [SSHD, '-D', '-e', '-E', logFile, '-f', config];
    const proc = setpriv
      ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', ...argv], { stdio: ['ignore', out, out], detached: false })
      : spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', out, out], detached: false });
    closeSync(out);
    const exited = once(proc, 'exit').catch(() => undefined);
    const spawnError = once(proc, 'error').then(([e]) => e as Error);
    proc.unref();
    live.add(proc);
    installExitHook();
    void exited.then(() => live.delete(proc));

    const listening = `Server listening on 127.0.0.1 port ${port}`;
    const deadline = Date.now() + readyTimeoutMs;
    let gone = false;
    void exited.then(() => (gone = true));
    let failure: unknown;
    void spawnError.then((e) => (failure = e));
    for (;;) {
      const text = logText().slice(logStart);
      if (text.includes(listening)) break;
      if (failure !== undefined) throw failure;
      if (gone) {
        const why = `${text}${stderrText()}`;
        if (/Address already in use|Cannot bind any address/.test(why)) throw new BindConflict(why);
        throw new Error(`sshd exited before listening on port ${port}:\n${why}`);
      }
      if (Date.now() > deadline) {
        if (proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
        throw new Error(`sshd not listening on port ${port} after ${readyTimeoutMs} ms:\n${text}${stderrText()}`);
      }
      await new Promise((r) => setTimeout(r, 15));
    }
    child = proc;
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.ref(); // keep the loop alive while we wait for it
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  };

  const start = async (): Promise<void> => {
    if (child) return;
    // Same port: something may hold it for a moment; retry a bounded number of times.
    for (let attempt = 0; ; attempt++) {
      try {
        await launch();
        return;
      } catch (err) {
        if (!(err instanceof BindConflict) || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };

  const refreshHostKey = (): void => {
    sshd.hostKeyPub = pubLine(`${hostKey}.pub`);
    sshd.knownHostsLine = `[127.0.0.1]:${port} ${sshd.hostKeyPub}`;
  };

  const sshArgs = (key: string = clientKey): string[] => [
    '-F', '/dev/null',
    '-i', key,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none',
    '-o', 'BatchMode=yes',
    '-o', `UserKnownHostsFile=${knownHostsFile}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'ConnectTimeout=10',
  ];

  const sshd = {
    host: '127.0.0.1' as const,
    get port() {
      return port;
    },
    user,
    dir,
    hostKeyPub: '',
    knownHostsLine: '',
    knownHostsFile,
    clientKey,
    clientKeyPub: `${clientKey}.pub`,
    wrongKey,
    wrongKeyPub: `${wrongKey}.pub`,
    get pid() {
      return child?.pid;
    },
    authorize(pubKeyPath: string) {
      appendFileSync(authorizedKeys, `${pubLine(pubKeyPath)}\n`, { mode: 0o600 });
    },
    deauthorize(pubKeyPath?: string) {
      if (pubKeyPath === undefined) {
        writeFileSync(authorizedKeys, '', { mode: 0o600 });
        return;
      }
      const drop = pubLine(pubKeyPath);
      const kept = readFileSync(authorizedKeys, 'utf8')
        .split('\n')
        .filter((l) => l !== '' && l !== drop);
      writeFileSync(authorizedKeys, kept.map((l) => `${l}\n`).join(''), { mode: 0o600 });
    },
    trustCurrentHostKey() {
      writeFileSync(knownHostsFile, `${sshd.knownHostsLine}\n`, { mode: 0o600 });
    },
    async regenerateHostKey() {
      await stop();
      await keygen(hostKey, 'pollpray-test-host');
      refreshHostKey();
      await start();
    },
    stop,
    start,
    cleanup: () => dispose(),
    async acceptedConnections() {
      const text = existsSync(logFile) ? await readFile(logFile, 'utf8') : '';
      return text.match(/Accepted publickey for /g)?.length ?? 0;
    },
    async connections() {
      const text = existsSync(logFile) ? await readFile(logFile, 'utf8') : '';
      return text.match(/Connection from 127\.0\.0\.1 port /g)?.length ?? 0;
    },
    logText,
    sshArgs,
    sshCommand(key?: string) {
      return ['ssh', ...sshArgs(key)].map(shellQuote).join(' ');
    },
    repoUrl(absPath: string) {
      return `ssh://${user}@127.0.0.1:${port}${absPath.startsWith('/') ? '' : '/'}${absPath}`;
    },
  } satisfies Sshd;

  const dispose = async (): Promise<void> => {
    await stop();
    if (!removed) {
      removed = true;
      rmSync(dir, { recursive: true, force: true });
    }
  };
  onTestFinishedIfInTest(dispose);

  try {
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      try {
        await launch();
        break;
      } catch (err) {
        if (!(err instanceof BindConflict) || attempt >= 5) throw err;
      }
    }
  } catch (err) {
    await dispose();
    throw err;
  }
  refreshHostKey();
  sshd.trustCurrentHostKey();
  return sshd;
}
