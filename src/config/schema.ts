/**
 * The config file's schema: the public contract of key names (see DESIGN.md). Types
 * are inferred from it, and `pollpray schema` exports it as JSON Schema for editors.
 * Cross-field rules and defaults that depend on the host live in normalise.ts.
 */
import { isAbsolute } from 'node:path';
import { validate as validCronExpression } from 'node-cron';
import { z } from 'zod';
import { DURATION_PATTERN } from '../duration.js';
import { SIZE_PATTERN } from '../size.js';
import { branchNameProblem } from '../git/ref-name.js';
import { tagPatternProblem } from '../git/tags.js';
import { sshUrlProblem } from '../git/ssh-url.js';
import { lfsUrlProblem } from '../git/lfs-url.js';
import { parseListen } from '../serve/listen.js';

export const TARGET_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;
/**
 * systemd unit names: no spaces, globs, options or extra arguments can pass. The first
 * character is a letter, digit, "_" or a backslash (systemd-escape writes a leading "-" as
 * `\x2d`): a name starting with "-" (`-Hx@evil.service`) would reach systemctl, and the
 * sudoers rule, as an option.
 */
export const UNIT_NAME_PATTERN = /^[A-Za-z0-9_\\][A-Za-z0-9:_.\\@-]*\.(service|socket|target|timer|path|mount)$/;

/** What restarts a target's `restart:` entries (README "Hosts without systemd"). */
export const SERVICE_MANAGERS = ['systemd', 'service', 'supervisorctl'] as const;
export type ServiceManagerKind = (typeof SERVICE_MANAGERS)[number];
/** SysV/OpenRC init script names (a file in /etc/init.d): no path, no option. */
export const SERVICE_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.@-]*$/;
/** supervisord program names, or `group:program`; never `all` or a `group:*` glob. */
export const PROGRAM_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/;

/**
 * Why `name` cannot be a restart entry for `manager`, or undefined when it can. A name
 * starting with "-" would be read as an option by sudo's command (systemctl, service,
 * supervisorctl) and is refused for every manager.
 */
export function restartNameProblem(manager: ServiceManagerKind, name: string): string | undefined {
  if (name.startsWith('-')) return 'must not start with "-" (it would be read as an option)';
  switch (manager) {
    case 'systemd':
      return UNIT_NAME_PATTERN.test(name)
        ? undefined
        : 'must be a systemd unit name like app.service (no spaces, globs, options or arguments); on a host without systemd set service_manager: service or supervisorctl';
    case 'service':
      return SERVICE_NAME_PATTERN.test(name) ? undefined : 'must be an init script name like nginx (a file in /etc/init.d; no "/", spaces, globs or options)';
    case 'supervisorctl':
      return PROGRAM_NAME_PATTERN.test(name) && name !== 'all'
        ? undefined
        : 'must be a supervisord program name like app or group:app (not all, no globs, spaces or options)';
  }
}

const duration = z
  .string()
  .regex(DURATION_PATTERN, { message: 'must be a duration like 30s, 10m, 2h or 14d' });

const size = z.string().regex(SIZE_PATTERN, { message: 'must be a size like 500MB, 2GB (units B, KB, MB, GB, TB)' });
const cronExpression = z.string().refine((e) => validCronExpression(e), {
  message: 'must be a cron expression like "*/5 * * * *" (minute hour day month weekday; daemon also takes a leading seconds field)',
});

const absolutePath = z
  .string()
  .min(1)
  .refine((p) => isAbsolute(p), { message: 'must be an absolute path (starting with /)' })
  // `/srv/www/../../etc` is /etc: say where a path leads instead of climbing out of it.
  .refine((p) => !p.split('/').includes('..'), { message: 'must not contain ".." (write the directory it leads to)' });

/**
 * A path that becomes one word of a sudoers rule (a service manager's binary or config):
 * whitespace there would split it into other words of the rule.
 */
const sudoersPath = absolutePath.refine((p) => !/[\s\x00-\x1f]/.test(p), { message: 'must not contain spaces or control characters (it is one word of the sudoers rule)' });

/** A path that may be relative to the config file's directory. */
const filePath = z.string().min(1);

const branch = z.string().superRefine((name, ctx) => {
  const problem = branchNameProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: `is not a valid branch name: it ${problem}` });
});

const tagPattern = z.string().superRefine((pattern, ctx) => {
  const problem = tagPatternProblem(pattern);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const repoUrl = z
  .string()
  .min(1)
  .refine((url) => !url.startsWith('-'), { message: 'must not start with "-" (it would be read as an option)' })
  .refine((url) => !/[\s\x00-\x1f]/.test(url), { message: 'must not contain spaces or control characters' })
  .superRefine((url, ctx) => {
    const problem = sshUrlProblem(url);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * A restart entry: a systemd unit, or with service_manager service/supervisorctl an init
 * script or program name. Which of them is checked per target in rules.ts
 * (restartNames), where the target's service_manager is known.
 */
const restartName = z
  .string()
  .refine((name) => !name.startsWith('-') && [UNIT_NAME_PATTERN, SERVICE_NAME_PATTERN, PROGRAM_NAME_PATTERN].some((p) => p.test(name)), {
    message:
      'must be a systemd unit name like app.service (or, with service_manager service or supervisorctl, an init script or program name): no spaces, globs, options or arguments',
  });

const serviceManager = z.enum(SERVICE_MANAGERS);

const sharedPath = z
  .string()
  .min(1)
  .refine((p) => !isAbsolute(p) && !p.split('/').includes('..'), {
    message: 'must be a relative path inside the release, without ".."',
  });

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'must be an environment variable name' });

export const sshSchema = z.strictObject({
  key: filePath.optional(),
  known_hosts: filePath.optional(),
  port: z.number().int().min(1).max(65535).optional(),
  user: z.string().regex(/^[a-z_][a-z0-9_.-]*$/i, { message: 'must be a plain user name' }).optional(),
  config: filePath.optional(),
  connect_timeout: duration.optional(),
});

export const healthSchema = z
  .strictObject({
    http: z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' }).optional(),
    command: z.array(z.string().min(1)).min(1).optional(),
    expect_status: z.number().int().min(100).max(599).optional(),
    body: z.string().optional(),
    timeout: duration.optional(),
    retries: z.number().int().min(0).max(100).optional(),
    interval: duration.optional(),
  })
  .refine((h) => (h.http === undefined) !== (h.command === undefined), {
    message: 'needs exactly one of http or command',
  });

export const verifySchema = z.strictObject({
  mode: z.enum(['ssh', 'gpg']),
  allowed_signers: filePath.optional(),
  keyring: filePath.optional(),
});

const envVars = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string());
const argv = z.array(z.string().min(1)).min(1);

export const stepHandlerSchema = z
  .strictObject({
    run: argv.optional(),
    message: z.string().min(1).optional(),
    webhook: z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' }).optional(),
  })
  .refine((h) => (h.run === undefined) !== (h.message === undefined), { message: 'needs exactly one of run (a command) or message (a notification)' })
  .refine((h) => h.webhook === undefined || h.message !== undefined, { message: 'webhook only goes with message' });

export const stepSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/, { message: 'must be a short name: letters, digits, space, ".", "_", "-"' }),
  run: z.union([argv, filePath], { message: 'must be a command as a list ([python3, manage.py, migrate]) or a script path' }),
  timeout: duration.optional(),
  env: envVars.optional(),
  on_success: stepHandlerSchema.optional(),
  on_failure: stepHandlerSchema.optional(),
});

/** A path for sparse checkout: plain names only, so it cannot become a glob or an option. */
const repoPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.startsWith('-') && !p.split('/').includes('..') && !p.split('/').includes('.'), {
    message: 'must be a relative path inside the repository, without "." or ".." (like site/ or docs)',
  })
  .refine((p) => !/[*?[\]\\!#\s\x00-\x1f]/.test(p), { message: 'must be a plain path: no globs (*?[]), "!", "#", spaces or backslashes' });

/**
 * `lfs: true`, or `lfs: { url }` for a repository whose LFS objects live on another server
 * (src/git/lfs-url.ts): the operator's URL, checked like `repo`.
 */
const lfsSetting = z.union([
  z.boolean(),
  z.strictObject({
    url: z.string().superRefine((url, ctx) => {
      const problem = lfsUrlProblem(url);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  }),
], { message: 'must be true, false or { url: <the LFS server\'s URL> }' });

/** Partial and shallow clones (README "Big repositories"). */
export const cloneSchema = z.strictObject({
  filter: z
    .string()
    .regex(/^(?:blob:none|blob:limit=\d+[kmg]?)$/, { message: 'must be blob:none or blob:limit=<size> (like blob:limit=1m)' })
    .optional(),
  depth: z.number().int().min(1).max(1_000_000).optional(),
});

const targetFields = {
  branch: branch.optional(),
  deploy_timeout: duration.optional(),
  git_timeout: duration.optional(),
  clone_timeout: duration.optional(),
  on_force_push: z.enum(['follow', 'refuse']).optional(),
  max_attempts: z.number().int().min(1).max(100).optional(),
  min_free_space: size.optional(),
};

export const targetSchema = z.strictObject({
  repo: repoUrl,
  ssh: sshSchema.optional(),
  path: absolutePath,
  tags: tagPattern.optional(),
  strategy: z.enum(['in-place', 'releases']).optional(),
  keep_releases: z.number().int().min(2).max(1000).optional(),
  shared: z.array(sharedPath).optional(),
  deploy: filePath.optional(),
  steps: z.array(stepSchema).min(1).optional(),
  restart: z.array(restartName).optional(),
  service_manager: serviceManager.optional(),
  health: healthSchema.optional(),
  verify: verifySchema.optional(),
  env: envVars.optional(),
  secret_env: z.array(envName).optional(),
  submodules: z.enum(['none', 'recursive']).optional(),
  lfs: lfsSetting.optional(),
  clone: cloneSchema.optional(),
  paths: z.array(repoPath).min(1).optional(),
  ...targetFields,
});

/** What a notifier can be told about (README "Know when it breaks"). */
export const NOTIFY_EVENTS = ['deployed', 'failed', 'recovered', 'refused', 'quarantined', 'unverified'] as const;

export const notifySchema = z
  .strictObject({
    webhook: z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' }).optional(),
    command: z.array(z.string().min(1)).min(1).optional(),
    on: z.array(z.enum(NOTIFY_EVENTS)).min(1).optional(),
    timeout: duration.optional(),
  })
  .refine((n) => (n.webhook === undefined) !== (n.command === undefined), {
    message: 'needs exactly one of webhook or command',
  });

export const logSchema = z.strictObject({
  dir: absolutePath.optional(),
  level: z.enum(['error', 'warn', 'info', 'debug']).optional(),
  retention: duration.optional(),
  compress: z.boolean().optional(),
  format: z.enum(['text', 'json']).optional(),
});

export const serveSchema = z.strictObject({
  listen: z.string().refine((l) => parseListen(l) !== undefined, { message: 'must be host:port, like 127.0.0.1:9876 or [::1]:9876' }).optional(),
  secret_file: filePath,
  allow: z
    .array(
      // host/owner/name: the host is matched too (a GitHub push for acme/todo is not a
      // GitLab one). The host has a dot, or is localhost, or an [IPv6] address. The
      // older owner/name form is still read (deprecated, warned about by `serve`): it
      // matches the path only, and a delivery must still match a target's host and path.
      z.string().regex(/^(?:(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|localhost|\[[0-9A-Fa-f:.]+\])(?:\/[A-Za-z0-9_.-]+)+|[A-Za-z0-9_.-]+)\/(?:[A-Za-z0-9_.-]+|\*)$/, {
        message: 'must be host/owner/name or host/owner/* (e.g. github.com/acme/todo): the host is matched too',
      }),
    )
    .min(1, { message: 'must list at least one host/owner/name: deliveries from other repositories are refused' }),
  workers: z.number().int().min(1).max(16).optional(),
});

/** Fleets: hosts of one group take turns through a Redis server (src/coordination/). */
export const coordinationSchema = z.strictObject({
  redis: z
    .string()
    .regex(/^rediss?:\/\/[^\s]+$/, { message: 'must be a redis:// or rediss:// URL, e.g. redis://10.0.0.5:6379/0' }),
  group: z.string().regex(TARGET_NAME_PATTERN, { message: 'must match [a-z0-9][a-z0-9._-]* (one name per app and environment)' }),
  max_in_flight: z.number().int().min(1).max(10_000).optional(),
  canary: z.boolean().optional(),
  wait: duration.optional(),
  lease: duration.optional(),
  on_unavailable: z.enum(['wait', 'deploy']).optional(),
  password_file: filePath.optional(),
  stale_after: duration.optional(),
  require_canary: z.boolean().optional(),
});

export const HOST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const configSchema = z.strictObject({
  state_dir: absolutePath.optional(),
  log: logSchema.optional(),
  concurrency: z.number().int().min(1).max(64).optional(),
  splay: duration.optional(),
  schedule: cronExpression.optional(),
  systemctl: sudoersPath.optional(),
  service_manager: serviceManager.optional(),
  service: sudoersPath.optional(),
  supervisorctl: sudoersPath.optional(),
  supervisor_config: sudoersPath.optional(),
  defaults: z.strictObject(targetFields).optional(),
  secret_env: z.array(envName).optional(),
  notify: z.array(notifySchema).optional(),
  metrics_file: absolutePath.optional(),
  heartbeat_url: z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' }).optional(),
  heartbeat_timeout: duration.optional(),
  serve: serveSchema.optional(),
  host_id: z.string().regex(HOST_ID_PATTERN, { message: 'must be letters, digits, ".", "_", "-" (at most 128)' }).optional(),
  coordination: coordinationSchema.optional(),
  targets: z.record(
    z.string().regex(TARGET_NAME_PATTERN, {
      message: 'target names must match [a-z0-9][a-z0-9._-]* (lowercase letters, digits, ".", "_", "-")',
    }),
    targetSchema,
  ),
});

export type RawConfig = z.infer<typeof configSchema>;
export type RawTarget = z.infer<typeof targetSchema>;
