/**
 * SECURITY.md: signatures and GitLab's token are checked in constant time. Timing cannot
 * be measured without flakes, so this watches the one door that makes it so: every
 * forge's check ends in crypto.timingSafeEqual on two equal-length digests, also for a
 * guess of another length (a plain `===`, or timingSafeEqual on the raw strings, which
 * throws on unequal lengths, would each fail here).
 */
import { createHmac } from 'node:crypto';
import * as crypto from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { beforeEach, expect, it, vi } from 'vitest';
import { readDelivery } from '../../src/serve/forge.js';

vi.mock('node:crypto', async (original) => {
  const real = await original<typeof import('node:crypto')>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});

const SECRET = 's3cret-s3cret-s3cret';
const body = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: 'acme/app', html_url: 'https://github.com/acme/app', clone_url: 'https://github.com/acme/app.git' } }));
const hmac = (secret: string) => createHmac('sha256', secret).update(body).digest('hex');

/** Each forge's headers with `proof` where its signature (or GitLab's token) goes. */
const FORGES: Record<string, (proof: string) => IncomingHttpHeaders> = {
  github: (p) => ({ 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'd-1', 'x-hub-signature-256': p }),
  gitea: (p) => ({ 'content-type': 'application/json', 'x-gitea-event': 'push', 'x-gitea-delivery': 'd-1', 'x-gitea-signature': p }),
  forgejo: (p) => ({ 'content-type': 'application/json', 'x-forgejo-event': 'push', 'x-forgejo-delivery': 'd-1', 'x-forgejo-signature': p }),
  gitlab: (p) => ({ 'content-type': 'application/json', 'x-gitlab-event': 'Push Hook', 'x-gitlab-event-uuid': 'd-1', 'x-gitlab-token': p }),
  'bitbucket-cloud': (p) => ({ 'content-type': 'application/json', 'x-event-key': 'repo:push', 'x-request-uuid': 'd-1', 'x-hook-uuid': 'h', 'x-hub-signature': p }),
  'bitbucket-server': (p) => ({ 'content-type': 'application/json', 'x-event-key': 'repo:refs_changed', 'x-request-id': 'd-1', 'x-hub-signature': p }),
};
const right: Record<string, string> = {
  github: `sha256=${hmac(SECRET)}`,
  gitea: hmac(SECRET),
  forgejo: hmac(SECRET),
  gitlab: SECRET,
  'bitbucket-cloud': `sha256=${hmac(SECRET)}`,
  'bitbucket-server': `sha256=${hmac(SECRET)}`,
};

const compare = vi.mocked(crypto.timingSafeEqual);
beforeEach(() => {
  compare.mockClear();
});

it.each(Object.keys(FORGES))('%s: a wrong proof of the same length, a shorter one and the right one all go through timingSafeEqual on equal-length digests', (forge) => {
  const headers = FORGES[forge]!;
  const good = right[forge]!;
  const sameLength = good.slice(0, -1) + (good.endsWith('0') ? '1' : '0');
  for (const [proof, authentic] of [[sameLength, false], [good.slice(0, 9), false], [good, true]] as const) {
    compare.mockClear();
    const d = readDelivery(headers(proof), body, SECRET);
    expect(d.kind === 'rejected' && d.status === 403, `${forge} ${proof}: ${JSON.stringify(d)}`).toBe(!authentic);
    expect(compare).toHaveBeenCalledTimes(1);
    const [a, b] = compare.mock.calls[0] as [Buffer, Buffer];
    expect(a.length).toBe(32);
    expect(b.length).toBe(32);
  }
});
