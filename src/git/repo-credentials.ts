/**
 * Credentials written into an http(s) repo URL (`https://deploy:TOKEN@git.example.com/…`)
 * never go on a command line, where every local user reads them with `ps`
 * (/proc/<pid>/cmdline), nor into a clone's .git/config. Config loading splits them off
 * the URL; git gets them as an `http.<url>.extraHeader` through GIT_CONFIG_* variables,
 * i.e. in its environment, which only its own user (and root) can read. The header is
 * scoped to the repo URL, and curl does not send it on to another host on a redirect.
 */
export interface RepoCredentials {
  username: string;
  password: string;
}

/** The URL without its user info, and the credentials it carried (http and https only: ssh's user is no secret). */
export function splitRepoCredentials(repo: string): { url: string; credentials?: RepoCredentials } {
  if (!/^https?:\/\//i.test(repo)) return { url: repo };
  let parsed: URL;
  try {
    parsed = new URL(repo);
  } catch {
    return { url: repo };
  }
  if (parsed.username === '' && parsed.password === '') return { url: repo };
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const credentials = { username: decode(parsed.username), password: decode(parsed.password) };
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.href, credentials };
}

export function basicAuthorization(c: RepoCredentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** git's environment for a repo with credentials: one config entry, never an argument. */
export function credentialEnv(url: string, credentials: RepoCredentials | undefined): Record<string, string> {
  return credentialsEnv([{ url, credentials }]);
}

/**
 * git's environment for several URLs with credentials (the repo's, an `lfs.url`'s): one
 * config entry each, never an argument. The longer URL goes first: for a request both
 * match, git passes on the best match it has seen and skips a broader one after it (its
 * urlmatch rules), so the server gets one Authorization header, not two; git-lfs takes
 * the best match whatever the order.
 */
export function credentialsEnv(entries: Array<{ url: string; credentials: RepoCredentials | undefined }>): Record<string, string> {
  const env: Record<string, string> = {};
  const withCredentials = entries.filter((e): e is { url: string; credentials: RepoCredentials } => e.credentials !== undefined);
  withCredentials.sort((a, b) => b.url.length - a.url.length);
  withCredentials.forEach(({ url, credentials }, i) => {
    env[`GIT_CONFIG_KEY_${i}`] = `http.${url}.extraHeader`;
    env[`GIT_CONFIG_VALUE_${i}`] = `Authorization: ${basicAuthorization(credentials)}`;
  });
  return withCredentials.length ? { GIT_CONFIG_COUNT: String(withCredentials.length), ...env } : {};
}
