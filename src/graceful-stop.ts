/**
 * A long-running command (serve) can take over the first SIGINT/SIGTERM to finish
 * what it started; main.ts asks here before it kills children and exits. A second
 * signal finds no handler and ends everything at once, as for any other command.
 */
let handler: ((signal: NodeJS.Signals) => void) | undefined;

/** Registers the one graceful-stop handler; returns a function that removes it. */
export function onGracefulStop(fn: (signal: NodeJS.Signals) => void): () => void {
  handler = fn;
  return () => {
    if (handler === fn) handler = undefined;
  };
}

/** Hands the signal to the registered handler (once); false when there is none. */
export function requestGracefulStop(signal: NodeJS.Signals): boolean {
  const fn = handler;
  if (!fn) return false;
  handler = undefined;
  fn(signal);
  return true;
}
