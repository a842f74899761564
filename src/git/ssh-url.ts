/**
 * Where git will connect for a repo URL, read the way git reads it: `ssh://` (and
 * git+ssh://, ssh+git://) URLs and scp-like `[user@]host:path`. Anything else (file://,
 * https://, a local path) does not go through ssh. Pure, unit-tested.
 */
export interface SshDestination {
  user?: string;
  /** As written in the URL: a host name, an address or an ssh config alias. */
  host: string;
  port?: number;
  /** The part of the URL naming the destination, verbatim (used as a grouping key). */
  authority: string;
}

function splitUserHost(text: string): { user?: string; host: string } {
  const at = text.lastIndexOf('@');
  return at >= 0 ? { user: text.slice(0, at), host: text.slice(at + 1) } : { host: text };
}

export function sshDestination(repo: string): SshDestination | undefined {
  const url = /^(?:ssh|git\+ssh|ssh\+git):\/\/([^/]*)(\/.*)?$/i.exec(repo);
  if (url) {
    const authority = url[1] ?? '';
    const { user, host: hostPort } = splitUserHost(authority);
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostPort);
    if (!m || !m[1]) return undefined;
    const host = m[1].replace(/^\[(.*)\]$/, '$1');
    return { ...(user ? { user } : {}), host, ...(m[2] ? { port: Number(m[2]) } : {}), authority };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repo)) return undefined;
  // scp-like: a colon before any slash. git treats `./a:b` or `/a:b` as paths.
  const colon = repo.indexOf(':');
  const slash = repo.indexOf('/');
  if (colon <= 0 || (slash >= 0 && slash < colon)) return undefined;
  const authority = repo.slice(0, colon);
  const { user, host } = splitUserHost(authority.replace(/^\[(.*)\]$/, '$1'));
  if (!host) return undefined;
  return { ...(user ? { user } : {}), host, authority };
}

/** `host` or `[host]:port` (port ≠ 22), the way known_hosts and ssh-keygen -F name a host. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** `host`, `host:port`, `[v6]:port` as typed on the command line. */
export function parseHostArg(arg: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(arg.trim());
  const host = m?.[1] ?? m?.[2];
  if (!m || !host || host.startsWith('-')) return undefined;
  const port = m[3] ? Number(m[3]) : 22;
  if (port < 1 || port > 65535) return undefined;
  return { host, port };
}
