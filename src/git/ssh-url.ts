/**
 * Where git will connect for a repo URL, read the way git reads it: `ssh://` (and
 * git+ssh://, ssh+git://) URLs and scp-like `[user@]host:path` (also `user@[::1]:path`). Anything else (file://,
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

/**
 * scp-like with brackets, as git's connect.c reads it: `[host]:path`, `user@[host]:path`,
 * `[user@host]:path` or `[host:port]:path`. The brackets hold an IPv6 address (whose
 * colons are not the path separator) or, in the old form, a port.
 */
const SCP_BRACKETED = /^(?:([^/[\]:]*)@)?\[([^/[\]]+)\]:/;
/** An scp-like URL that opens a bracket before its first colon: git reads the brackets. */
const SCP_BRACKET_START = /^(?:[^/[\]:]*@)?\[/;

function scpBracketed(repo: string): SshDestination | undefined {
  const m = SCP_BRACKETED.exec(repo);
  if (!m || !m[2]) return undefined;
  const inner = splitUserHost(m[2]);
  const user = m[1] ?? inner.user;
  if ((m[1] !== undefined && inner.user !== undefined) || user === '') return undefined;
  // git's get_host_and_port: a port only when all after the first colon is digits, so
  // `::1` stays an address and `myhost:123` is host and port.
  const hostPort = /^([^:]+):(\d{1,5})$/.exec(inner.host);
  const host = hostPort ? hostPort[1]! : inner.host;
  const port = hostPort ? Number(hostPort[2]) : undefined;
  if (!host || (port !== undefined && (port < 1 || port > 65535))) return undefined;
  return { ...(user ? { user } : {}), host, ...(port ? { port } : {}), authority: m[0].slice(0, -1) };
}

export function sshDestination(repo: string): SshDestination | undefined {
  const url = /^(?:ssh|git\+ssh|ssh\+git):\/\/([^/]*)(\/.*)?$/i.exec(repo);
  if (url) {
    const authority = url[1] ?? '';
    const { user, host: hostPort } = splitUserHost(authority);
    const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/.exec(hostPort);
    if (!m || !m[1]) return undefined;
    const host = m[1].replace(/^\[(.*)\]$/, '$1');
    return { ...(user ? { user } : {}), host, ...(m[2] ? { port: Number(m[2]) } : {}), authority };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repo)) return undefined;
  // scp-like: a colon before any slash. git treats `./a:b` or `/a:b` as paths.
  const colon = repo.indexOf(':');
  const slash = repo.indexOf('/');
  if (colon <= 0 || (slash >= 0 && slash < colon)) return undefined;
  // The first colon may be inside brackets (`git@[::1]:path`): those are read whole.
  if (SCP_BRACKET_START.test(repo)) return scpBracketed(repo);
  const authority = repo.slice(0, colon);
  const { user, host } = splitUserHost(authority);
  if (!host || /[[\]]/.test(host)) return undefined;
  return { ...(user ? { user } : {}), host, authority };
}

/**
 * The path part of an ssh URL, as git-lfs sends it to `git-lfs-authenticate`: for
 * `ssh://host/srv/app.git` `/srv/app.git` (percent escapes decoded), for scp-like
 * `host:srv/app.git` `srv/app.git`. Undefined for a URL that is not ssh.
 */
export function sshUrlPath(url: string): string | undefined {
  const dest = sshDestination(url);
  if (!dest) return undefined;
  const scheme = /^(?:ssh|git\+ssh|ssh\+git):\/\//i.exec(url);
  if (!scheme) return url.slice(dest.authority.length + 1);
  const path = url.slice(scheme[0].length + dest.authority.length);
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * Why an ssh repo URL's brackets cannot be read (git would connect somewhere surprising,
 * e.g. to host `[` for `git@[::1:path`) or a host or user that is an option, or undefined.
 */
export function sshUrlProblem(repo: string): string | undefined {
  const scheme = /^(?:ssh|git\+ssh|ssh\+git):\/\/([^/]*)/i.exec(repo);
  let bracketed = false;
  if (scheme) bracketed = /[[\]]/.test(scheme[1] ?? '');
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repo)) return undefined;
  else {
    const colon = repo.indexOf(':');
    const slash = repo.indexOf('/');
    if (colon <= 0 || (slash >= 0 && slash < colon)) return undefined; // a local path
    bracketed = SCP_BRACKET_START.test(repo) || /[[\]]/.test(repo.slice(0, colon));
  }
  const dest = sshDestination(repo);
  // git blocks these ("strange hostname"); ssh would read them as options.
  if (dest && (dest.host.startsWith('-') || dest.user?.startsWith('-'))) return 'names a host or user starting with "-" (ssh would read it as an option)';
  if (!bracketed || dest) return undefined;
  return 'has a "[" that does not enclose the host: write an IPv6 address as git@[::1]:owner/name.git or ssh://git@[::1]:2222/owner/name.git';
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
