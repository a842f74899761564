/**
 * Runs git for a target through the one exec door, with an environment that cron's
 * or a hook's GIT_* variables cannot bend: no GIT_DIR/GIT_WORK_TREE leaking in, no
 * prompts, no system or ~/.gitconfig (an `insteadOf` there could send the fetch
 * elsewhere), no ssh-agent, and our own ssh command.
 */
import { dirname, resolve } from 'node:path';
import type { Target } from '../config/normalise.js';
import { run, type RunResult } from '../exec/run.js';
import { classifyGitFailure, classifyTransport } from './errors.js';
import { formatDuration } from '../duration.js';
import { GitError, SshError } from '../errors.js';
import { progress, progressEnd, stderrIsTty } from '../log/console.js';
import { multiplexOptions } from './multiplex.js';
import { credentialsEnv } from './repo-credentials.js';
import { unusableDeployKey } from './key-check.js';
import { gitSshCommand } from './ssh.js';
import { sshDestination } from './ssh-url.js';

/** Hardening flags put before every git subcommand. */
const SAFE_CONFIG = [
  '-c', 'protocol.ext.allow=never',
  '-c', 'protocol.file.allow=always',
  '-c', 'core.hooksPath=/dev/null',
  '-c', 'advice.detachedHead=false',
  '-c', 'gc.auto=0',
  // fetch and clone would start `git maintenance run --auto` after every call: one more
  // process per fetch that, with gc.auto=0, finds nothing to do.
  '-c', 'maintenance.auto=false',
];

function gitEnv(target: Target): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const key of Object.keys(process.env)) if (key.startsWith('GIT_')) env[key] = undefined;
  return {
    ...env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
    SSH_AUTH_SOCK: undefined,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_SSH_COMMAND: gitSshCommand(target, multiplexOptions(target)),
    // git must not guess the ssh flavour from the command's name (it decides -p handling).
    GIT_SSH_VARIANT: 'ssh',
    LC_ALL: 'C',
    // Credentials from an http(s) repo URL or lfs.url: here, never on the command line.
    ...credentialsEnv([
      { url: target.repo, credentials: target.repoCredentials },
      ...(target.lfsUrl ? [{ url: target.lfsUrl, credentials: target.lfsCredentials }] : []),
    ]),
  };
}

export interface GitCall {
  cwd: string;
  target: Target;
  timeoutMs?: number;
  /** Extra variables for this call only (e.g. GNUPGHOME for signature checks). */
  env?: Record<string, string>;
  /** The config key timeoutMs comes from, for the message when it is exceeded (default git_timeout). */
  timeoutKey?: string;
  /** A clone or fetch that may take long: its stderr is shown on a terminal (pair with progressArgs()). */
  progress?: boolean;
  /** Sees every output line as it arrives, for output too big to keep (a whole tree listing). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  maxOutput?: number;
  /** Written to git's stdin (a `cat-file --batch` request). */
  input?: string;
}

/** `--progress` when pollpray's stderr is a terminal: git then reports progress although its stderr is our pipe. */
export function progressArgs(): string[] {
  return stderrIsTty() ? ['--progress'] : [];
}

export async function git(args: string[], call: GitCall): Promise<RunResult> {
  const show = call.progress === true && stderrIsTty();
  try {
    return await runGit(args, call, show);
  } finally {
    if (show) progressEnd();
  }
}

function runGit(args: string[], call: GitCall, show: boolean): Promise<RunResult> {
  return run(['git', ...SAFE_CONFIG, ...args], {
    cwd: call.cwd,
    timeoutMs: call.timeoutMs ?? call.target.gitTimeoutMs,
    // git looks for a repository in cwd and then in every parent. A checkout whose .git
    // broke (HEAD deleted) would make `reset --hard` act on whatever repository lies
    // above it (a /srv kept in git); the ceiling keeps every call to cwd itself.
    env: { ...gitEnv(call.target), GIT_CEILING_DIRECTORIES: dirname(resolve(call.cwd)), ...call.env },
    killGraceMs: 2000,
    onLine: show
      ? (line: string, stream: 'stdout' | 'stderr') => {
          if (stream === 'stderr') progress(line);
          call.onLine?.(line, stream);
        }
      : call.onLine,
    maxOutput: call.maxOutput,
    input: call.input,
  });
}

/** Like git(), but a non-zero exit becomes a classified, actionable error. */
export async function gitOrThrow(args: string[], call: GitCall, what: string): Promise<RunResult> {
  const result = await git(args, call);
  if (result.timedOut) {
    // Our own limit, not ssh's: the fix is git_timeout (or the server), not connect_timeout.
    const key = call.timeoutKey ?? 'git_timeout';
    throw new GitError(`${what} did not finish within ${key} (${formatDuration(call.timeoutMs ?? call.target.gitTimeoutMs)}) and was killed`, {
      target: call.target.name,
      hint: sshDestination(call.target.repo)
        ? `check that the server answers (pollpray test-ssh), or raise ${key} for a large repository`
        : `check that ${call.target.repo} answers from this host, or raise ${key} for a large repository`,
    });
  }
  if (result.exitCode !== 0 || result.spawnError) {
    const stderr = result.spawnError ?? result.stderr;
    throw (await keyFault(stderr, call)) ?? classifyGitFailure(stderr, call.target.name, call.target.repo, what, call.cwd);
  }
  return result;
}

/**
 * ssh refused the key or could not load it: when the key file is the cause (a passphrase,
 * too open a mode), say which file and the fix. ssh under BatchMode reports a key with a
 * passphrase as a plain "Permission denied (publickey)", which would send the operator to
 * the forge. The host's fault, never the commit's.
 */
async function keyFault(stderr: string, call: GitCall): Promise<SshError | undefined> {
  const kind = classifyTransport(stderr)?.kind;
  if (kind !== 'auth-refused' && kind !== 'key-unusable') return undefined;
  const verdict = await unusableDeployKey(call.target, call.cwd);
  if (!verdict) return undefined;
  return new SshError(`deploy key ${verdict.detail}`, { target: call.target.name, hint: verdict.fix, fault: 'host' });
}
