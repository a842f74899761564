/**
 * The error family. Every error a user can see carries what failed, the target (when
 * there is one), a hint with the fix, and the exit code it maps to in main.ts.
 * Messages are passed through the redactor before they are printed or logged.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, wrongUser: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * Whose fault a failed deploy is. `commit`: what was pushed (a failing build, a failing
 * health check) — counted against the commit, which backs off and is quarantined.
 * `host`: the machine (a non-executable deploy script, a missing sudo rule, an
 * unreachable service manager, an unwritable or full directory) — never counted, so the
 * next run after the fix deploys the same commit without `--force`. Decided where the
 * error is made; src/deploy/policy.ts acts on it.
 */
export type Fault = 'host' | 'commit';

export interface PollprayErrorOptions {
  target?: string;
  hint?: string;
  cause?: unknown;
  /** Overrides the class's default fault (see Fault). */
  fault?: Fault;
}

/** The longest message an error's one line quotes. */
const MAX_MESSAGE_CHARS = 2000;

export abstract class PollprayError extends Error {
  abstract readonly exitCode: ExitCode;
  readonly target: string | undefined;
  readonly hint: string | undefined;
  private readonly faultOverride: Fault | undefined;

  constructor(message: string, options: PollprayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.target = options.target;
    this.hint = options.hint;
    this.faultOverride = options.fault;
  }

  /** Whose fault it is when it ends a deploy: the option given where it was made, else the class's default. */
  get fault(): Fault {
    return this.faultOverride ?? this.defaultFault();
  }

  protected defaultFault(): Fault {
    return 'commit';
  }

  /** The options to make the same error again (with another message). */
  options(): PollprayErrorOptions {
    return { target: this.target, hint: this.hint, cause: this, fault: this.fault };
  }

  /**
   * One line: `target: message (fix: hint)`, what cron mails and stderr shows. The message is
   * cut to MAX_MESSAGE_CHARS: it may quote what a commit chose (a submodule URL, a path), and
   * the line goes into state, history and every notification, a command hook's environment
   * included, where Linux refuses one string over 128 KiB.
   */
  oneLine(): string {
    const where = this.target ? `${this.target}: ` : '';
    const fix = this.hint ? ` (fix: ${this.hint})` : '';
    const message = this.message.length > MAX_MESSAGE_CHARS ? `${this.message.slice(0, MAX_MESSAGE_CHARS - 1).replace(/[\ud800-\udbff]$/, '')}…` : this.message;
    return `${where}${message}${fix}`.replace(/\s*\n\s*/g, ' ');
  }

  /** What stderr shows: one line, or for a multi-problem report (config) one line per problem. */
  lines(): string[] {
    if (!this.message.includes('\n')) return [this.oneLine()];
    const where = this.target ? `${this.target}: ` : '';
    const body = this.message.split('\n').map((line, i) => (i === 0 ? `${where}${line}` : `  ${line}`));
    return this.hint ? [...body, `fix: ${this.hint}`] : body;
  }
}

/** Config or flags are wrong; nothing ran. The operator's to fix, never the commit's fault. */
export class ConfigError extends PollprayError {
  readonly exitCode = EXIT.usage;
  protected override defaultFault(): Fault {
    return 'host';
  }
}
/** Command-line usage is wrong; nothing ran. */
export class UsageError extends PollprayError {
  readonly exitCode = EXIT.usage;
}
export class SshError extends PollprayError {
  readonly exitCode = EXIT.failed;
}
export class GitError extends PollprayError {
  readonly exitCode = EXIT.failed;
}
export class DeployScriptError extends PollprayError {
  readonly exitCode = EXIT.failed;
}
/**
 * The commit's own tree cannot be deployed (a `.git` path in it): the commit's fault, not
 * the disk's or the network's, so it counts against the commit like a failing build.
 */
export class CommitContentError extends PollprayError {
  readonly exitCode = EXIT.failed;
}
/** A commit's signature is missing, bad or from a signer the target does not trust. */
export class SignatureError extends PollprayError {
  readonly exitCode = EXIT.failed;
}
/** sudo or the service manager: a host fault unless made with `fault: 'commit'` (the unit itself failed). */
export class SudoError extends PollprayError {
  readonly exitCode = EXIT.failed;
  protected override defaultFault(): Fault {
    return 'host';
  }
}
export class HealthCheckError extends PollprayError {
  readonly exitCode = EXIT.failed;
}
/** The environment pollpray needs (state dir, log dir, a lock, disk space) is unusable: a host fault. */
export class EnvironmentError extends PollprayError {
  readonly exitCode = EXIT.failed;
  protected override defaultFault(): Fault {
    return 'host';
  }
}
/**
 * pollpray was started as a user that does not own what it would write (a checkout, a
 * release dir, the state or log dir, a file:// origin): it stops before any write, so
 * one `sudo pollpray run` can never leave root-owned files behind or "repair" a clone
 * that git only refused to read.
 */
export class OwnershipError extends PollprayError {
  readonly exitCode = EXIT.wrongUser;
  protected override defaultFault(): Fault {
    return 'host';
  }
}
/** The fleet's Redis is unreachable or answered with an error. */
export class CoordinationError extends PollprayError {
  readonly exitCode = EXIT.failed;
}
export class InternalError extends PollprayError {
  readonly exitCode = EXIT.failed;
}

export function errorMessage(err: unknown): string {
  if (err instanceof PollprayError) return err.oneLine();
  if (err instanceof Error) return err.message;
  return String(err);
}
