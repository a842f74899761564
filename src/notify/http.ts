/**
 * The one outbound HTTP call of pollpray (webhooks, heartbeat): a hard timeout over
 * the whole exchange, no redirects followed (a ping URL that redirects is a mistake
 * worth seeing, and a redirect must not carry the payload elsewhere), the response
 * body discarded. Never throws: the caller logs what came back.
 */
export interface HttpOutcome {
  ok: boolean;
  /** `HTTP 204`, `timed out after 1.0s`, `ECONNREFUSED`... for the log line. */
  detail: string;
}

export async function post(url: string, body: string, contentType: string, timeoutMs: number): Promise<HttpOutcome> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': contentType, 'user-agent': 'pollpray' },
      body,
      redirect: 'manual',
      signal: controller.signal,
    });
    await res.body?.cancel().catch(() => undefined);
    return { ok: res.status >= 200 && res.status < 300, detail: `HTTP ${res.status}` };
  } catch (err) {
    if (controller.signal.aborted) return { ok: false, detail: `timed out after ${timeoutMs}ms` };
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { ok: false, detail: cause?.code ?? cause?.message ?? (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** Where a URL points, without its path or credentials: what logs may name. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid URL';
  }
}
