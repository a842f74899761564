/**
 * The only module that talks to Redis (@redis/client). Everything a fleet shares lives
 * under `pollpray:<group>:<target>:`: `slot:<i>` leases, `verdict:<sha>` canary
 * verdicts, the `hosts` hash of fleet records and the `canaries` set. Every call has a
 * deadline, so a hung Redis can never hang a cron run.
 */
import { readFileSync } from 'node:fs';
import type { createClient as CreateClient } from '@redis/client';
import type { CoordinationSettings } from '../config/normalise.js';
import { CoordinationError, errorMessage } from '../errors.js';
import { log } from '../log/logger.js';
import { addSecrets } from '../log/redact.js';
import { fullShaSchema } from '../state/records.js';
import { z } from 'zod';

/*
 * What Redis holds was written by other hosts of the fleet, or by anyone else who can write
 * to that Redis: data, read back like a state file (src/state/records.ts). Each value is
 * checked against its schema; one that does not match is absent, with one warning naming
 * its key, and none of it ever names a path, a target or a process (the target's name and
 * the keys come from the config).
 */
const hostId = z.string().min(1).max(256);
const time = z.string().max(64);
/** An error line or a reason: shown to people (through the redactor), never run. */
const text = z.string().max(4096);

export const verdictSchema = z.object({
  verdict: z.enum(['healthy', 'bad']),
  host: hostId,
  time,
  reason: text.optional(),
});
export type Verdict = z.infer<typeof verdictSchema>;

export const fleetRecordSchema = z.object({
  host: hostId,
  target: z.string().max(256),
  canary: z.boolean(),
  /** The commit the host's code is at, as its state says. */
  commit: fullShaSchema.nullable(),
  result: z.string().max(64).nullable(),
  time,
  error: text.nullable().optional(),
  /** The commit the host is waiting for or skipped, with why. */
  pending: z.object({ commit: fullShaSchema, reason: text }).nullable().optional(),
});
export type FleetRecord = z.infer<typeof fleetRecordSchema>;

/** Compare-and-delete / compare-and-renew: a host only ever touches its own lease. */
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
/** Verdicts outlive any rollout; a month keeps `status` able to say why a commit was refused. */
const VERDICT_TTL_S = 30 * 86_400;
const COMMAND_TIMEOUT_MS = 5000;

/** host:port/db of a redis URL, never its credentials: what messages show. */
export function redisLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}${u.pathname && u.pathname !== '/' ? u.pathname : '/0'}`;
  } catch {
    return 'redis (unparsable URL)';
  }
}

/** The URL's and the password file's secrets must never reach a log, error or terminal. */
export function readRedisPassword(settings: CoordinationSettings): string | undefined {
  try {
    const u = new URL(settings.redis);
    if (u.password) addSecrets([u.password, decodeURIComponent(u.password)]);
  } catch {
    // rules.ts rejects such a URL before anything runs
  }
  if (!settings.passwordFile) return undefined;
  let password: string;
  try {
    password = readFileSync(settings.passwordFile, 'utf8').replace(/\r?\n$/, '');
  } catch (cause) {
    throw new CoordinationError(`cannot read coordination.password_file ${settings.passwordFile}`, {
      hint: `create it (mode 0600, owned by this user) or remove password_file`,
      cause,
    });
  }
  addSecrets([password]);
  return password;
}

// Loaded on first connect only: a host without `coordination` never pays for the client.
let createClient: typeof CreateClient | undefined;

function makeClient(url: string, password: string | undefined, connectTimeoutMs: number, reconnect: () => boolean) {
  if (!createClient) throw new Error('makeClient before loadRedisClient');
  return createClient({
    url,
    ...(password === undefined ? {} : { password }),
    // A command while disconnected fails at once instead of queueing behind a dead socket.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: connectTimeoutMs,
      // First connect: fail fast. Later drops (mid-deploy): keep trying, so the lease can
      // still be renewed or released when Redis comes back before the run ends.
      reconnectStrategy: (retries: number) => (reconnect() ? Math.min(100 * (retries + 1), 1000) : false),
    },
  });
}
type Client = ReturnType<typeof makeClient>;

export class FleetStore {
  private constructor(
    private readonly client: Client,
    private readonly prefix: string,
    readonly label: string,
  ) {}

  /** Connects once, without retrying: an unreachable Redis is reported at once. */
  static async connect(settings: CoordinationSettings, connectTimeoutMs = 3000): Promise<FleetStore> {
    if (!createClient) {
      const redis = await import('@redis/client');
      // In the bundled CLI this CommonJS package is its default export only (esbuild does
      // not lift a dynamically imported CommonJS module's names the way Node does).
      createClient = redis.createClient ?? (redis as unknown as { default: typeof redis }).default.createClient;
    }
    const password = readRedisPassword(settings);
    const label = redisLabel(settings.redis);
    let connected = false;
    const client = makeClient(settings.redis, password, connectTimeoutMs, () => connected);
    // node-redis emits 'error' on every failed reconnect; unhandled it would crash the run.
    client.on('error', (err: unknown) => log.debug(`redis ${label}: ${errorMessage(err)}`, { step: 'coordination' }));
    try {
      await withDeadline(client.connect(), connectTimeoutMs + 1000, 'connect');
      connected = true;
    } catch (cause) {
      client.destroy();
      throw unreachable(label, cause);
    }
    return new FleetStore(client, `pollpray:${settings.group}:`, label);
  }

  async close(): Promise<void> {
    try {
      await withDeadline(this.client.close(), 1000, 'close');
    } catch {
      this.client.destroy();
    }
  }

  private key(target: string, ...parts: string[]): string {
    return [`${this.prefix}${target}`, ...parts].join(':');
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withDeadline(fn(), COMMAND_TIMEOUT_MS, what);
    } catch (cause) {
      throw unreachable(this.label, cause);
    }
  }

  /** SET NX PX: true when this token now holds the slot. */
  async takeSlot(target: string, slot: number, token: string, leaseMs: number): Promise<boolean> {
    const reply = await this.call('take slot', () =>
      this.client.set(this.key(target, 'slot', String(slot)), token, { condition: 'NX', expiration: { type: 'PX', value: leaseMs } }),
    );
    return reply === 'OK';
  }

  async renewSlot(target: string, slot: number, token: string, leaseMs: number): Promise<boolean> {
    const n = await this.call('renew slot', () =>
      this.client.eval(RENEW, { keys: [this.key(target, 'slot', String(slot))], arguments: [token, String(leaseMs)] }),
    );
    return n === 1;
  }

  async releaseSlot(target: string, slot: number, token: string): Promise<boolean> {
    const n = await this.call('release slot', () =>
      this.client.eval(RELEASE, { keys: [this.key(target, 'slot', String(slot))], arguments: [token] }),
    );
    return n === 1;
  }

  async slotHolders(target: string, slots: number): Promise<(string | null)[]> {
    if (slots === 0) return [];
    const keys = Array.from({ length: slots }, (_, i) => this.key(target, 'slot', String(i)));
    return this.call('read slots', () => this.client.mGet(keys)) as Promise<(string | null)[]>;
  }

  async verdict(target: string, sha: string): Promise<Verdict | null> {
    const key = this.key(target, 'verdict', sha);
    const value = await this.call('read verdict', () => this.client.get(key));
    return parse(verdictSchema, value, `canary verdict in Redis (${key})`);
  }

  /** A bad verdict always wins; a healthy one never overwrites a bad one. */
  async setVerdict(target: string, sha: string, verdict: Verdict): Promise<void> {
    const key = this.key(target, 'verdict', sha);
    await this.call('write verdict', () =>
      this.client.set(key, JSON.stringify(verdict), {
        expiration: { type: 'EX', value: VERDICT_TTL_S },
        ...(verdict.verdict === 'healthy' ? { condition: 'NX' as const } : {}),
      }),
    );
  }

  async hasCanary(target: string): Promise<boolean> {
    return (await this.call('read canaries', () => this.client.sCard(this.key(target, 'canaries')))) > 0;
  }

  async registerHost(target: string, record: FleetRecord): Promise<void> {
    await this.call('write fleet record', async () => {
      const m = this.client.multi().hSet(this.key(target, 'hosts'), record.host, JSON.stringify(record));
      if (record.canary) m.sAdd(this.key(target, 'canaries'), record.host);
      else m.sRem(this.key(target, 'canaries'), record.host);
      await m.exec();
    });
  }

  /** The valid records of the target's hosts; `ignored` says which were not (for commands without a log). */
  async fleet(target: string): Promise<{ records: FleetRecord[]; ignored: string[] }> {
    const key = this.key(target, 'hosts');
    const all = await this.call('read fleet', () => this.client.hGetAll(key));
    const ignored: string[] = [];
    const records = Object.entries(all)
      .map(([field, v]) => parse(fleetRecordSchema, v, `fleet record in Redis (${key} ${field})`, (line) => ignored.push(line)))
      .filter((r): r is FleetRecord => r !== null);
    return { records, ignored };
  }

  async forgetHost(target: string, host: string): Promise<boolean> {
    return this.call('forget host', async () => {
      const [removed] = (await this.client.multi().hDel(this.key(target, 'hosts'), host).sRem(this.key(target, 'canaries'), host).exec()) as unknown as [number];
      return removed === 1;
    });
  }
}

/** The value as `schema` says, or null (with one warning naming `what`) when it is not JSON of that shape. */
function parse<T>(schema: z.ZodType<T>, value: string | null | undefined, what: string, also?: (line: string) => void): T | null {
  if (!value) return null;
  const warn = (why: string) => {
    const line = `ignored an invalid ${what}: ${why}`;
    log.warn(line, { step: 'coordination' });
    also?.(line);
    return null;
  };
  let data: unknown;
  try {
    data = JSON.parse(value);
  } catch {
    return warn('not JSON');
  }
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  // The issue's path and message only: the value itself is another host's text.
  const issue = parsed.error.issues[0];
  return warn(issue ? `${issue.path.join('.') || 'value'} ${issue.message}` : 'wrong shape');
}

function unreachable(label: string, cause: unknown): CoordinationError {
  if (cause instanceof CoordinationError) return cause;
  // A network errno means unreachable; anything else is Redis answering (e.g. WRONGPASS).
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
  const message = errno ? `cannot reach the fleet's Redis at ${label} (${errno})` : `the fleet's Redis at ${label} failed: ${errorMessage(cause).split('\n')[0]}`;
  return new CoordinationError(message, {
    hint: `check that Redis runs, this host can reach it and the password is right (redis-cli -u <url> ping); coordination.on_unavailable decides what runs meanwhile`,
    cause,
  });
}

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms}ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
