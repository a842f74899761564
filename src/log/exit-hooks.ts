/**
 * What main.ts needs from the logger at exit, without importing it: `pollpray
 * --version` should not load winston. The logger registers itself here when it is
 * loaded; if it never was, no log file was opened and there is nothing to flush.
 */
let flush: (() => Promise<void>) | undefined;
let fatal: ((line: string) => void) | undefined;

export function registerLogExitHooks(hooks: { flush: () => Promise<void>; fatal: (line: string) => void }): void {
  flush = hooks.flush;
  fatal = hooks.fatal;
}

/** Records the error that ends the run in the log file, if one is open. */
export function logFatal(line: string): void {
  fatal?.(line);
}

export async function flushLogs(): Promise<void> {
  await flush?.();
}
