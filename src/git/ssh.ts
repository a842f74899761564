/**
 * Builds the ssh command git uses for a target. pollpray never depends on ssh-agent,
 * ~/.ssh/config or whatever environment cron happens to have: `-F` names the config
 * (the target's own, or /dev/null), the key is offered alone (IdentitiesOnly), nothing
 * may prompt (BatchMode), and only a pinned host key is accepted.
 *
 * git runs GIT_SSH_COMMAND through `sh -c`, so every word is single-quoted here;
 * config values never reach a shell unquoted.
 */
import type { Target } from '../config/normalise.js';

export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function sshArgv(target: Target): string[] {
  const s = target.ssh;
  const argv = ['ssh', '-F', s.config ?? '/dev/null'];
  const opt = (k: string, v: string) => argv.push('-o', `${k}=${v}`);
  opt('BatchMode', 'yes');
  opt('ConnectTimeout', String(Math.max(1, Math.ceil(s.connectTimeoutMs / 1000))));
  if (s.key) {
    argv.push('-i', s.key);
    opt('IdentitiesOnly', 'yes');
    opt('IdentityAgent', 'none');
  }
  if (s.knownHosts) {
    opt('UserKnownHostsFile', s.knownHosts);
    opt('GlobalKnownHostsFile', '/dev/null');
  }
  opt('StrictHostKeyChecking', 'yes');
  if (s.port) argv.push('-p', String(s.port));
  if (s.user) argv.push('-l', s.user);
  return argv;
}

export function gitSshCommand(target: Target): string {
  return sshArgv(target).map(shellQuote).join(' ');
}
