/**
 * Who handles SIGINT, SIGTERM and SIGHUP. main.ts registers the default (end our
 * process groups, exit); a long-running command such as `daemon` pushes its own
 * handler on top for as long as it runs and pops it when done, so the default
 * never cuts a running deploy short behind the daemon's back.
 */
export type Signal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';
type Handler = (signal: Signal) => void;

const stacks = new Map<Signal, Handler[]>();

function dispatch(signal: Signal): void {
  const stack = stacks.get(signal);
  stack?.[stack.length - 1]?.(signal);
}

/** Handle `signals` with `handler` until the returned function is called. */
export function handleSignals(signals: readonly Signal[], handler: Handler): () => void {
  for (const signal of signals) {
    let stack = stacks.get(signal);
    if (!stack) {
      stack = [];
      stacks.set(signal, stack);
      process.on(signal, dispatch);
    }
    stack.push(handler);
  }
  return () => {
    for (const signal of signals) {
      const stack = stacks.get(signal);
      if (!stack) continue;
      const i = stack.lastIndexOf(handler);
      if (i >= 0) stack.splice(i, 1);
      if (stack.length === 0) {
        stacks.delete(signal);
        process.off(signal, dispatch);
      }
    }
  };
}
