/**
 * Turns a schema-valid file into the Config the rest of pollpray uses: defaults filled
 * in, durations in milliseconds, relative file paths resolved against the config
 * file's directory, host-dependent defaults (state and log dirs) decided here.
 */
import { hostname } from 'node:os';
import { homeDir } from '../host/users.js';
import { dirname, join, resolve } from 'node:path';
import { parseDuration } from '../duration.js';
import { ConfigError } from '../errors.js';
import { parseSize } from '../size.js';
import { DEFAULT_LISTEN } from '../serve/listen.js';
import { splitRepoCredentials, type RepoCredentials } from '../git/repo-credentials.js';
import { HOST_ID_PATTERN, NOTIFY_EVENTS, type RawConfig, type RawTarget, type ServiceManagerKind } from './schema.js';

export interface SshSettings {
  key?: string;
  /** Always set: the target's own, or `<state_dir>/known_hosts` (never ~/.ssh/known_hosts). */
  knownHosts: string;
  port?: number;
  user?: string;
  config?: string;
  connectTimeoutMs: number;
}

export interface HealthSettings {
  http?: string;
  command?: string[];
  expectStatus: number;
  body?: string;
  timeoutMs: number;
  retries: number;
  intervalMs: number;
}

export interface VerifySettings {
  mode: 'ssh' | 'gpg';
  allowedSigners?: string;
  keyring?: string;
}

export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export interface NotifySettings {
  webhook?: string;
  command?: string[];
  on: NotifyEvent[];
  timeoutMs: number;
}

export interface StepHandler {
  run?: string[];
  message?: string;
  webhook?: string;
}

export interface PipelineStep {
  name: string;
  /** argv: a list from the config, or a script path resolved against the config file. */
  run: string[];
  timeoutMs: number;
  env: Record<string, string>;
  onSuccess?: StepHandler;
  onFailure?: StepHandler;
}

/** What restarts a target's `restart:` entries, and the absolute binary sudo runs for it. */
export interface ServiceManager {
  kind: ServiceManagerKind;
  binary: string;
  /** supervisorctl only: its config file (`-c`), when not the default one. */
  config?: string;
}

export const DEFAULT_BINARIES: Record<ServiceManagerKind, string> = {
  systemd: '/usr/bin/systemctl',
  service: '/usr/sbin/service',
  supervisorctl: '/usr/bin/supervisorctl',
};

export interface Target {
  name: string;
  /** The repo URL as git is given it: an http(s) URL without the credentials written into it. */
  repo: string;
  /** Credentials that were in an http(s) repo URL: git gets them through its environment only. */
  repoCredentials?: RepoCredentials;
  ssh: SshSettings;
  branch: string;
  /** Track the newest tag matching this glob or version range instead of the branch. */
  tags?: string;
  path: string;
  strategy: 'in-place' | 'releases';
  keepReleases: number;
  shared: string[];
  deploy?: string;
  /** A pipeline instead of one deploy script (never both). */
  steps?: PipelineStep[];
  deployTimeoutMs: number;
  gitTimeoutMs: number;
  restart: string[];
  /** Restarts `restart` entries: systemd (default), service or supervisorctl. */
  serviceManager: ServiceManager;
  health?: HealthSettings;
  verify?: VerifySettings;
  env: Record<string, string>;
  /** Names of variables (in `env` or pollpray's own environment) whose values are redacted everywhere. */
  secretEnv: string[];
  onForcePush: 'follow' | 'refuse';
  maxAttempts: number;
  /** releases: no new release is created while free space at path is below this. */
  minFreeSpaceBytes: number;
  /** The first fetch into an empty clone or mirror (and what it reads right after) gets this instead of gitTimeoutMs. */
  cloneTimeoutMs: number;
  /** Fetch and deploy submodules (recursively); otherwise they are empty directories, with one warning. */
  submodules: boolean;
  /** Fetch Git LFS objects and deploy their content; otherwise a commit using LFS is refused. */
  lfs: boolean;
  /** `lfs: { url }`: the LFS server to pin instead of the one derived from repo (without credentials). */
  lfsUrl?: string;
  /** Credentials that were in an http(s) lfs.url: git-lfs gets them through git's environment only. */
  lfsCredentials?: RepoCredentials;
  /** Partial (filter) and shallow (depth) first fetch. */
  clone: { filter?: string; depth?: number };
  /** Sparse checkout: only these repository paths are deployed (empty: everything). */
  paths: string[];
}

export interface LogSettings {
  dir: string;
  level: 'error' | 'warn' | 'info' | 'debug';
  retentionMs: number;
  retentionDays: number;
  compress: boolean;
  format: 'text' | 'json';
}

export interface ServeSettings {
  listen: string;
  secretFile: string;
  allow: string[];
  workers: number;
}

export interface CoordinationSettings {
  /** As written; may carry a password (redacted everywhere, see src/coordination/connect.ts). */
  redis: string;
  group: string;
  maxInFlight: number;
  canary: boolean;
  waitMs: number;
  leaseMs: number;
  onUnavailable: 'wait' | 'deploy';
  passwordFile?: string;
  staleAfterMs: number;
  /** Followers wait for a canary's verdict even before any canary has registered. */
  requireCanary: boolean;
}

export interface Config {
  /** The file this came from, for messages and for resolving relative paths. */
  file: string;
  stateDir: string;
  log: LogSettings;
  concurrency: number;
  splayMs: number;
  schedule: string;
  systemctl: string;
  serve?: ServeSettings;
  /** This host's name in its fleet: POLLPRAY_HOST_ID, else host_id, else the host name. */
  hostId: string;
  coordination?: CoordinationSettings;
  targets: Target[];
  secretEnv: string[];
  notify: NotifySettings[];
  metricsFile?: string;
  heartbeatUrl?: string;
  heartbeatTimeoutMs: number;
}

export interface HostFacts {
  uid: number;
  /** Undefined when there is no home directory (src/host/users.ts homeDir). */
  home: string | undefined;
  hostname?: string;
  /** POLLPRAY_HOST_ID: lets one machine play several fleet hosts (tests, bench). */
  hostIdOverride?: string;
}

export function currentHost(): HostFacts {
  return { uid: process.getuid?.() ?? 1000, home: homeDir(), hostname: hostname(), hostIdOverride: process.env.POLLPRAY_HOST_ID || undefined };
}

function hostIdOf(raw: RawConfig, host: HostFacts): string {
  if (host.hostIdOverride !== undefined && !HOST_ID_PATTERN.test(host.hostIdOverride)) {
    throw new ConfigError(`POLLPRAY_HOST_ID "${host.hostIdOverride}" is not a valid host id`, {
      hint: 'use letters, digits, ".", "_", "-" (at most 128), or unset it to use host_id or the host name',
    });
  }
  return host.hostIdOverride ?? raw.host_id ?? host.hostname ?? hostname();
}

export function defaultStateDir(host: HostFacts): string {
  if (host.uid === 0) return '/var/lib/pollpray';
  if (!host.home) {
    throw new ConfigError('state_dir: not set, and this user has no home directory for the default (~/.local/state/pollpray)', {
      hint: 'set state_dir in the config to a directory this user owns, e.g. /var/lib/pollpray',
    });
  }
  return join(host.home, '.local/state/pollpray');
}

export function defaultLogDir(host: HostFacts, stateDir: string): string {
  return host.uid === 0 ? '/var/log/pollpray' : join(stateDir, 'log');
}

/** A command is resolved like deploy when it names a path (relative to the config file); a bare name is looked up on PATH. */
function commandArgv([bin = '', ...args]: string[], base: string): string[] {
  return [bin.includes('/') ? resolve(base, bin) : bin, ...args];
}

/** Where trust-host pins host keys for targets that do not name their own file. */
export function defaultKnownHosts(stateDir: string): string {
  return join(stateDir, 'known_hosts');
}

const ms = (value: string | undefined, fallback: string): number => parseDuration(value ?? fallback) ?? 0;

export function normalise(raw: RawConfig, file: string, host: HostFacts = currentHost()): Config {
  const base = dirname(resolve(file));
  const rel = (p: string | undefined) => (p === undefined ? undefined : resolve(base, p));
  const stateDir = raw.state_dir ?? defaultStateDir(host);
  const d = raw.defaults ?? {};
  const retentionMs = ms(raw.log?.retention, '14d');
  const binaries: Record<ServiceManagerKind, string> = {
    systemd: raw.systemctl ?? DEFAULT_BINARIES.systemd,
    service: raw.service ?? DEFAULT_BINARIES.service,
    supervisorctl: raw.supervisorctl ?? DEFAULT_BINARIES.supervisorctl,
  };
  const manager = (kind: ServiceManagerKind): ServiceManager =>
    kind === 'supervisorctl' && raw.supervisor_config ? { kind, binary: binaries[kind], config: raw.supervisor_config } : { kind, binary: binaries[kind] };

  const target = (name: string, t: RawTarget): Target => ({
    name,
    repo: splitRepoCredentials(t.repo).url,
    repoCredentials: splitRepoCredentials(t.repo).credentials,
    ssh: {
      key: rel(t.ssh?.key),
      knownHosts: rel(t.ssh?.known_hosts) ?? defaultKnownHosts(stateDir),
      port: t.ssh?.port,
      user: t.ssh?.user,
      config: rel(t.ssh?.config),
      connectTimeoutMs: ms(t.ssh?.connect_timeout, '10s'),
    },
    branch: t.branch ?? d.branch ?? 'main',
    tags: t.tags,
    path: t.path,
    strategy: t.strategy ?? 'in-place',
    keepReleases: t.keep_releases ?? 5,
    shared: t.shared ?? [],
    deploy: rel(t.deploy),
    steps: t.steps?.map((step) => ({
      name: step.name,
      run: typeof step.run === 'string' ? [resolve(base, step.run)] : step.run,
      timeoutMs: ms(step.timeout ?? t.deploy_timeout ?? d.deploy_timeout, '10m'),
      env: step.env ?? {},
      onSuccess: step.on_success,
      onFailure: step.on_failure,
    })),
    deployTimeoutMs: ms(t.deploy_timeout ?? d.deploy_timeout, '10m'),
    gitTimeoutMs: ms(t.git_timeout ?? d.git_timeout, '2m'),
    restart: t.restart ?? [],
    serviceManager: manager(t.service_manager ?? raw.service_manager ?? 'systemd'),
    health: t.health && {
      http: t.health.http,
      command: t.health.command,
      expectStatus: t.health.expect_status ?? 200,
      body: t.health.body,
      timeoutMs: ms(t.health.timeout, '10s'),
      retries: t.health.retries ?? 3,
      intervalMs: ms(t.health.interval, '2s'),
    },
    verify: t.verify && {
      mode: t.verify.mode,
      allowedSigners: rel(t.verify.allowed_signers),
      keyring: rel(t.verify.keyring),
    },
    env: t.env ?? {},
    secretEnv: [...new Set([...(raw.secret_env ?? []), ...(t.secret_env ?? [])])],
    onForcePush: t.on_force_push ?? d.on_force_push ?? 'follow',
    maxAttempts: t.max_attempts ?? d.max_attempts ?? 3,
    minFreeSpaceBytes: parseSize(t.min_free_space ?? d.min_free_space ?? '100MB') ?? 0,
    cloneTimeoutMs: ms(t.clone_timeout ?? d.clone_timeout, '30m'),
    submodules: t.submodules === 'recursive',
    lfs: t.lfs !== undefined && t.lfs !== false,
    ...(typeof t.lfs === 'object' ? { lfsUrl: splitRepoCredentials(t.lfs.url).url, lfsCredentials: splitRepoCredentials(t.lfs.url).credentials } : {}),
    clone: { ...(t.clone?.filter ? { filter: t.clone.filter } : {}), ...(t.clone?.depth ? { depth: t.clone.depth } : {}) },
    paths: t.paths ?? [],
  });

  return {
    file: resolve(file),
    stateDir,
    log: {
      dir: raw.log?.dir ?? defaultLogDir(host, stateDir),
      level: raw.log?.level ?? 'info',
      retentionMs,
      retentionDays: Math.max(1, Math.ceil(retentionMs / 86_400_000)),
      compress: raw.log?.compress ?? true,
      format: raw.log?.format ?? 'text',
    },
    concurrency: raw.concurrency ?? 4,
    splayMs: ms(raw.splay, '0s'),
    schedule: raw.schedule ?? '*/5 * * * *',
    systemctl: binaries.systemd,
    serve: raw.serve && {
      listen: raw.serve.listen ?? DEFAULT_LISTEN,
      secretFile: resolve(base, raw.serve.secret_file),
      allow: raw.serve.allow,
      workers: raw.serve.workers ?? 2,
    },
    hostId: hostIdOf(raw, host),
    coordination: raw.coordination && {
      redis: raw.coordination.redis,
      group: raw.coordination.group,
      maxInFlight: raw.coordination.max_in_flight ?? 1,
      canary: raw.coordination.canary ?? false,
      waitMs: ms(raw.coordination.wait, '0s'),
      leaseMs: ms(raw.coordination.lease, '30s'),
      onUnavailable: raw.coordination.on_unavailable ?? 'wait',
      passwordFile: rel(raw.coordination.password_file),
      staleAfterMs: ms(raw.coordination.stale_after, '15m'),
      requireCanary: raw.coordination.require_canary ?? false,
    },
    targets: Object.entries(raw.targets).map(([name, t]) => target(name, t)),
    secretEnv: raw.secret_env ?? [],
    notify: (raw.notify ?? []).map((n) => ({
      webhook: n.webhook,
      command: n.command && commandArgv(n.command, base),
      // deployed is opt-in: by default a notifier hears about problems and their end.
      on: n.on ?? NOTIFY_EVENTS.filter((e) => e !== 'deployed'),
      timeoutMs: ms(n.timeout, '10s'),
    })),
    metricsFile: raw.metrics_file,
    heartbeatUrl: raw.heartbeat_url,
    heartbeatTimeoutMs: ms(raw.heartbeat_timeout, '10s'),
  };
}
