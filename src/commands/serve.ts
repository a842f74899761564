/**
 * `pollpray serve`: the optional webhook accelerator. A verified push from an allowed
 * repository queues the normal cycle of the targets that follow it; polling stays the
 * source of truth (a lost delivery only means the next poll deploys). Runs until
 * SIGTERM/SIGINT, then stops taking deliveries, lets running cycles finish and returns.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Config, Target } from '../config/normalise.js';
import { runCycle } from '../deploy/cycle.js';
import { ConfigError, EnvironmentError, errorMessage, UsageError } from '../errors.js';
import { refuseUntrustedFiles, runningUser } from '../config/file-trust.js';
import { requireOwnership } from '../host/ownership.js';
import { resolveSsh } from '../git/ssh-resolve.js';
import { sshDestination } from '../git/ssh-url.js';
import { configureLogging, log } from '../log/logger.js';
import { addSecrets } from '../log/redact.js';
import { handleSignals } from '../signals.js';
import { DeliveryMemory } from '../serve/deliveries.js';
import { parseListen } from '../serve/listen.js';
import { allowEntryHasHost, allowNamesTarget, targetLocation, type LocatedTarget } from '../serve/match.js';
import { CycleQueue } from '../serve/queue.js';
import { startWebhookServer } from '../serve/server.js';
import type { Command } from 'commander';
import { configFrom, type CliContext } from './cli-context.js';
import { out } from '../log/console.js';

export interface ServeOptions {
  config: Config;
  /** --listen, overriding serve.listen. */
  listen?: string;
  /** Called once the socket is bound (with the real port when 0 was asked for). */
  onListening?: (url: string) => void;
}

export interface ServeResult {
  signal: NodeJS.Signals;
  /** Queued cycles that had not started when the stop came (the next poll covers them). */
  dropped: number;
}

function readSecret(file: string): string {
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').replace(/\s+$/, '');
  } catch (cause) {
    throw new ConfigError(`serve.secret_file ${file} cannot be read`, {
      hint: 'create it with a long random secret (e.g. openssl rand -hex 32 > file; chmod 600 file), readable by this user',
      cause,
    });
  }
  if (secret.length < 16) {
    throw new ConfigError(`serve.secret_file ${file} holds ${secret ? 'a secret shorter than 16 characters' : 'no secret'}`, {
      hint: 'put a long random secret in it (openssl rand -hex 32) and the same one in the forge\'s webhook settings',
    });
  }
  return secret;
}

/**
 * Where each target fetches from. An ssh URL's host may be an alias of the target's
 * ssh config (`Host github.com-repo-todo` / `HostName github.com`): `ssh -G`, run the
 * way git runs ssh for the target, says which host it really is, so a delivery from
 * github.com matches it. Resolved once, at start.
 */
export async function locateTargets(targets: readonly Target[]): Promise<LocatedTarget[]> {
  return Promise.all(
    targets.map(async (target) => {
      let resolved: string | undefined;
      if (sshDestination(target.repo)) {
        const r = await resolveSsh(target, tmpdir());
        if ('error' in r) log.warn(`serve: cannot resolve the ssh host of ${target.repo} (${r.error}); deliveries must name it as written`, { target: target.name, step: 'serve' });
        else resolved = r.hostname;
      }
      const location = targetLocation(target.repo, resolved);
      if (!location) log.warn(`serve: ${target.repo} names no host and path; no delivery will match it`, { target: target.name, step: 'serve' });
      return { target, location };
    }),
  );
}

export async function serve(options: ServeOptions): Promise<ServeResult> {
  const { config } = options;
  const settings = config.serve;
  if (!settings) {
    throw new ConfigError(`${config.file} has no serve: section`, {
      hint: 'add serve: { secret_file: /etc/pollpray/webhook.secret, allow: [github.com/owner/name] } (see the README, "Coming from a webhook deployer")',
    });
  }
  const listenText = options.listen ?? settings.listen;
  const listen = parseListen(listenText);
  if (!listen) throw new UsageError(`--listen ${listenText} is not host:port`, { hint: 'use e.g. --listen 127.0.0.1:9876' });
  const secret = readSecret(settings.secretFile);
  addSecrets([secret]);
  requireOwnership(config, config.targets);
  configureLogging(config.log);

  const byName = new Map(config.targets.map((t) => [t.name, t]));
  const queue = new CycleQueue(settings.workers, async (name) => {
    const target = byName.get(name);
    if (!target) return;
    try {
      // Loaded once, serving for months: a script that became writable by others since must not run (as daemon).
      refuseUntrustedFiles(config, runningUser());
    } catch (err) {
      log.error(`webhook cycle not run: ${errorMessage(err)}`, { target: name, step: 'serve' });
      return;
    }
    const outcome = await runCycle(config, target, { dryRun: false, force: false });
    log.info(`webhook cycle: ${outcome.result}`, { target: name, step: 'serve', durationMs: outcome.durationMs });
  });
  const deliveries = new DeliveryMemory(config.stateDir);
  if (deliveries.movedAside) log.warn(`serve: the delivery memory was not valid and was moved aside to ${deliveries.movedAside}`, { step: 'serve' });
  const located = await locateTargets(config.targets);
  for (const entry of settings.allow) {
    if (!allowEntryHasHost(entry)) {
      log.warn(`serve: serve.allow entry ${entry} has no host (deprecated): it matches that path on any target's host; write it as host/${entry.trim()}, e.g. github.com/${entry.trim()}`, { step: 'serve' });
    }
    const named = located.some((t) => t.location !== undefined && allowNamesTarget(entry, t.location));
    if (!named) log.warn(`serve: serve.allow entry ${entry} names no target's repository (host/owner/name, host as in the repo URL or its ssh HostName)`, { step: 'serve' });
  }

  let stopped!: (signal: NodeJS.Signals) => void;
  const stop = new Promise<NodeJS.Signals>((resolve) => (stopped = resolve));
  // The first SIGINT/SIGTERM stops taking work and lets running cycles finish; the
  // handler then steps aside, so a second signal ends everything at once (main.ts).
  const unregister: () => void = handleSignals(['SIGINT', 'SIGTERM'], (signal) => {
    unregister();
    stopped(signal);
  });

  const server = await startWebhookServer({
    ...listen,
    secret,
    allow: settings.allow,
    targets: located,
    queue,
    deliveries,
  }).catch((cause: NodeJS.ErrnoException) => {
    unregister();
    throw new EnvironmentError(`cannot listen on ${listenText} (${cause.code ?? cause.message})`, {
      hint: cause.code === 'EADDRINUSE' ? 'another process uses that port: pick another with --listen or serve.listen' : 'check the address and the permissions for that port',
      cause,
    });
  });
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  log.info(`serve: listening on http://${host}:${server.port} (${settings.workers} workers; allow ${settings.allow.join(', ')})`, { step: 'serve' });
  options.onListening?.(`http://${host}:${server.port}`);

  const signal = await stop;
  log.info(`serve: ${signal}: no new deliveries; waiting for running cycles`, { step: 'serve' });
  const closing = server.close();
  const dropped = await queue.stop();
  await closing;
  log.info(`serve: stopped (${dropped} queued cycle${dropped === 1 ? '' : 's'} left to the next poll)`, { step: 'serve' });
  return { signal, dropped };
}

export function defineCommands(program: Command, _cli: CliContext): void {
  program
    .command('serve')
    .description('optional webhook accelerator: a verified push queues an immediate cycle of its targets')
    .option('--listen <host:port>', 'address to listen on (default: serve.listen, else 127.0.0.1:9876)')
    .action(async (opts: { listen?: string }, cmd: Command) => {
      await serve({ config: await configFrom(cmd), listen: opts.listen, onListening: (url) => out(`pollpray serve: listening on ${url}`) });
    });
}
