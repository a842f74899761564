/**
 * The one redactor. Every log line, printed error, captured script output, state and
 * history field, notification and heartbeat body passes through it, so a token pasted
 * into a repo URL or echoed by a deploy script never reaches a log file, cron mail,
 * state file or chat channel.
 *
 * It also neutralises control characters, for the same reason at the same door: commit
 * subjects and script output are written by whoever can push, and an escape sequence
 * (`ESC ]0;…`, `ESC [2J`, a lone CR) would retitle or clear the reader's terminal, or
 * hide text, in `status`, `history`, cron mail or `less` of the log. Each C0, DEL and C1
 * character except newline and tab is shown in caret notation (`^[`, `^M`, `M-^[`, as
 * `cat -v` does), and bidirectional overrides as `<U+202E>`: visible, inert, and
 * never joined back into a secret the way deleting a sequence could.
 *
 * Two kinds of secret: shapes (credentials in URLs and tokens in their query strings,
 * GitHub/GitLab/AWS tokens, Bearer tokens, private key blocks), and exact values registered with addSecrets() — the
 * values of variables named in `secret_env`, webhook and heartbeat URLs.
 */
const RULES: Array<[RegExp, string]> = [
  // Private key blocks, whole (a deploy script that cats a key).
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g, '[REDACTED PRIVATE KEY]'],
  // Credentials in URLs: scheme://user:password@host -> scheme://user:***@host, and
  // scheme://:password@host (no user: redis, memcached) -> scheme://:***@host. The
  // password runs to the last @ before the path: one written with a raw @ is hidden whole.
  // No \b before the scheme: output glues URLs to words (`rc=1https://…`, `_https://…`),
  // and the scheme is written back as matched, so where the match starts changes nothing else.
  // The match starts at `://` and looks back for the scheme: started at the scheme, every
  // letter of a long word would begin a scan to its end (a 256 KiB line of one word took a
  // minute, holding the event loop and with it every timeout).
  [/:\/\/(?<=[a-z][a-z0-9+.-]*:\/\/)([^/\s:@]*):([^/\s]+)@/gi, '://$1:***@'],
  // Token-only userinfo: https://TOKEN@host (GitHub's x-access-token style)
  [/(https?:\/\/)([A-Za-z0-9_\-.]{20,})@/g, '$1***@'],
  // Secrets in a query string, the value only (up to &, #, a space or a quote): a name
  // ending in token, secret, password or signature, as GitLab's labkit masks them
  // (access_token, private_token, client_secret, X-Amz-Security-Token, X-Amz-Signature),
  // and api_key, apikey and sig (Azure SAS). A bare `key` is left: too often not a secret.
  [/([?&](?:[\w-]*(?:token|secret|password|signature)|api_?key|sig)=)[^&#\s"']+/gi, '$1***'],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}\b/g, '[REDACTED]'],
  [/\bgithub_pat_[A-Za-z0-9_]{20,}\b/g, '[REDACTED]'],
  [/\bglpat-[A-Za-z0-9_-]{20,}\b/g, '[REDACTED]'],
  [/\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, '[REDACTED]'],
  // RemoteAuth: the scheme of the tokens forges' git-lfs-authenticate hands git-lfs (GitHub's, GitLab's).
  [/\b(Bearer|RemoteAuth|token)\s+[A-Za-z0-9\-._~+/]{16,}=*/gi, '$1 [REDACTED]'],
];

let extraSecrets: string[] = [];

/** Values that must never be shown, e.g. from environment variables named secret in config. */
export function addSecrets(values: Iterable<string>): void {
  const fresh = [...values].filter((v) => v.length >= 4);
  extraSecrets = [...new Set([...extraSecrets, ...fresh])].sort((a, b) => b.length - a.length);
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function caret(c: string): string {
  const code = c.charCodeAt(0);
  if (code < 0x20) return `^${String.fromCharCode(code + 64)}`;
  if (code === 0x7f) return '^?';
  if (code < 0xa0) return `M-^${String.fromCharCode(code - 0x80 + 64)}`;
  return `<U+${code.toString(16).toUpperCase()}>`;
}

/** Control characters (but newline and tab) made visible and inert; see the module comment. */
export function neutralise(text: string): string {
  return text.replace(CONTROL, caret);
}

function hideSecrets(text: string): string {
  let out = text;
  // Exact values first: a secret DATABASE_URL is hidden whole, not only its password.
  for (const secret of extraSecrets) out = out.split(secret).join('[REDACTED]');
  return out;
}

function applyRules(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  return out;
}

/** For text on its way out (printed, logged, stored, sent): secrets hidden, control characters inert. */
export function redact(text: string): string {
  // Secrets are hidden before and after neutralising: a secret holding a control
  // character is found as written, and one a script split with an escape stays split.
  return applyRules(hideSecrets(neutralise(hideSecrets(text))));
}

/**
 * Secrets hidden, control characters kept: for a child's captured output, which
 * pollpray also parses (git's `%x00`-separated fields). It is neutralised by redact()
 * when it leaves through a sink.
 */
function redactCaptured(text: string): string {
  return applyRules(hideSecrets(text));
}

const KEY_BEGIN = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const KEY_END = /-----END [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * A redactor for output that arrives line by line (a deploy script's stdout): a
 * private key block spans lines, so the lines between BEGIN and END are hidden too,
 * which redact() on each line alone could not know. One per stream. Control
 * characters are kept (the caller may parse the output; see redactCaptured).
 */
export function lineRedactor(): (line: string) => string {
  let inKey = false;
  return (line) => {
    if (inKey) {
      if (!KEY_END.test(line)) return '[REDACTED PRIVATE KEY]';
      inKey = false;
      return redactCaptured(line.replace(/^[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----/, '[REDACTED PRIVATE KEY]'));
    }
    const begin = KEY_BEGIN.exec(line);
    if (begin && !KEY_END.test(line.slice(begin.index))) inKey = true;
    return redactCaptured(line);
  };
}

/** Every string inside a JSON-like value, redacted (state, history, notification payloads). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)])) as T;
  }
  return value;
}
