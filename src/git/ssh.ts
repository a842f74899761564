/**
 * Builds the ssh command git uses for a target. pollpray never depends on ssh-agent,
 * ~/.ssh/config or whatever environment cron happens to have: `-F` names the config
 * (the target's own, or /dev/null), only the configured key is offered
 * (IdentitiesOnly, no agent), nothing may prompt (BatchMode), and only a host key
 * pinned in the target's known_hosts is accepted (never ~/.ssh/known_hosts, never
 * learned or updated on the fly).
 *
 * git runs GIT_SSH_COMMAND through `sh -c`, so every word is single-quoted here;
 * config values never reach a shell unquoted.
 */
import type { Target } from '../config/normalise.js';

export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The identity part of the ssh command: who connects, with what key, trusting which host keys. */
export function sshArgv(target: Target): string[] {
  const s = target.ssh;
  const argv = ['ssh', '-F', s.config ?? '/dev/null'];
  const opt = (k: string, v: string) => argv.push('-o', `${k}=${v}`);
  opt('BatchMode', 'yes');
  opt('ConnectTimeout', String(Math.max(1, Math.ceil(s.connectTimeoutMs / 1000))));
  if (s.key) argv.push('-i', s.key);
  // No key and no ssh config naming one: offer nothing rather than ~/.ssh/id_*.
  else if (!s.config) opt('IdentityFile', 'none');
  // Even without ssh.key (an alias whose IdentityFile is in ssh.config) no other key
  // may be offered: a refused deploy key must never fall back to a personal one.
  opt('IdentitiesOnly', 'yes');
  opt('IdentityAgent', 'none');
  opt('UserKnownHostsFile', s.knownHosts);
  opt('GlobalKnownHostsFile', '/dev/null');
  opt('StrictHostKeyChecking', 'yes');
  opt('UpdateHostKeys', 'no');
  if (s.port) argv.push('-p', String(s.port));
  if (s.user) argv.push('-l', s.user);
  return argv;
}

/** `extra`: options added for this call only (connection sharing, see multiplex.ts). */
export function gitSshCommand(target: Target, extra: readonly string[] = []): string {
  return [...sshArgv(target), ...extra].map(shellQuote).join(' ');
}
