/** `127.0.0.1:9876`, `[::1]:9876` or `0.0.0.0:9876` → host and port; undefined when unreadable. */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

/** Loopback only unless the user said otherwise: the listener is an accelerator, not a front door. */
export const DEFAULT_LISTEN = '127.0.0.1:9876';
