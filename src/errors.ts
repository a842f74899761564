/**
 * The error family. Every error a user can see carries what failed, the target (when
 * there is one), a hint with the fix, and the exit code it maps to in main.ts.
 * Messages are passed through the redactor before they are printed or logged.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface PollprayErrorOptions {
  target?: string;
  hint?: string;
  cause?: unknown;
}

export abstract class PollprayError extends Error {
  abstract readonly exitCode: ExitCode;
  readonly target: string | undefined;
  readonly hint: string | undefined;

  constructor(message: string, options: PollprayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.target = options.target;
    this.hint = options.hint;
  }

  /** One line: `target: message (fix: hint)`, what cron mails and stderr shows. */
  oneLine(): string {
    const where = this.target ? `${this.target}: ` : '';
    const fix = this.hint ? ` (fix: ${this.hint})` : '';
    return `${where}${this.message}${fix}`.replace(/\s*\n\s*/g, ' ');
  }

  /** What stderr shows: one line, or for a multi-problem report (config) one line per problem. */
  lines(): string[] {
    if (!this.message.includes('\n')) return [this.oneLine()];
    const where = this.target ? `${this.target}: ` : '';
    const body = this.message.split('\n').map((line, i) => (i === 0 ? `${where}${line}` : `  ${line}`));
    return this.hint ? [...body, `fix: ${this.hint}`] : body;
  }
}

/** Config or flags are wrong; nothing ran. */
export class ConfigError extends PollprayError {
  readonly exitCode = EXIT.usage;
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
export class SudoError extends PollprayError {
  readonly exitCode = EXIT.failed;
}
export class HealthCheckError extends PollprayError {
  readonly exitCode = EXIT.failed;
}
/** The environment pollpray needs (state dir, log dir, a lock) is unusable. */
export class EnvironmentError extends PollprayError {
  readonly exitCode = EXIT.failed;
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
