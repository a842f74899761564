/**
 * The dead-man's switch, healthchecks.io style: after each run, POST to heartbeat_url
 * (everything fine) or to its /fail variant (a target failed). If pings stop, the
 * checker alerts: that catches a pollpray that no longer runs at all. The body is a
 * short redacted summary, which healthchecks shows with the ping.
 */
import { hostOf, post } from './http.js';
import { log } from '../log/logger.js';
import { redact } from '../log/redact.js';

/** `<url>/fail`, keeping a query string where it belongs. */
export function failUrl(url: string): string {
  const u = new URL(url);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/fail`;
  return u.href;
}

export async function pingHeartbeat(url: string, failed: boolean, summary: string, timeoutMs: number): Promise<void> {
  const target = failed ? failUrl(url) : url;
  const res = await post(target, redact(summary), 'text/plain; charset=utf-8', timeoutMs);
  const what = `heartbeat ${failed ? 'fail ' : ''}ping to ${hostOf(url)}`;
  if (res.ok) log.info(`${what}: ${res.detail}`, { step: 'heartbeat' });
  else log.warn(`${what} failed: ${res.detail} (the run goes on)`, { step: 'heartbeat' });
}
