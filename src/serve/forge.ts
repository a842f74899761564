/**
 * Reads a webhook delivery from GitHub, GitLab or Gitea/Forgejo: which forge sent it,
 * whether its secret checks out (in constant time), and which repository and ref were
 * pushed. Pure over headers and the raw body, so every rejection is table-tested.
 * The body is parsed only after the signature verified: unauthenticated input is
 * never interpreted.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export type Forge = 'github' | 'gitlab' | 'gitea';

export interface Push {
  kind: 'push';
  forge: Forge;
  deliveryId: string;
  /** `owner/name` (GitLab: the full namespace path). */
  repo: string;
  /** `refs/heads/main` or `refs/tags/v1.2.0`. */
  ref: string;
}

export interface OtherEvent {
  kind: 'ping' | 'ignored';
  forge: Forge;
  deliveryId: string;
  event: string;
}

export interface Rejection {
  kind: 'rejected';
  status: 400 | 403;
  reason: string;
}

export type Delivery = Push | OtherEvent | Rejection;

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** Equal-length digests compared in constant time: neither content nor length leaks. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function hmacHex(secret: string, body: Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

interface Envelope {
  forge: Forge;
  event: string;
  deliveryId: string | undefined;
  authentic: boolean;
}

function envelope(headers: IncomingHttpHeaders, body: Buffer, secret: string): Envelope | undefined {
  // Gitea and Forgejo also send X-GitHub-Event for compatibility: ask for them first.
  const giteaEvent = header(headers, 'x-forgejo-event') ?? header(headers, 'x-gitea-event');
  if (giteaEvent !== undefined) {
    const signature = header(headers, 'x-forgejo-signature') ?? header(headers, 'x-gitea-signature') ?? '';
    return {
      forge: 'gitea',
      event: giteaEvent,
      deliveryId: header(headers, 'x-forgejo-delivery') ?? header(headers, 'x-gitea-delivery'),
      authentic: sameSecret(signature.toLowerCase(), hmacHex(secret, body)),
    };
  }
  const githubEvent = header(headers, 'x-github-event');
  if (githubEvent !== undefined) {
    const signature = header(headers, 'x-hub-signature-256') ?? '';
    return {
      forge: 'github',
      event: githubEvent,
      deliveryId: header(headers, 'x-github-delivery'),
      authentic: sameSecret(signature.toLowerCase(), `sha256=${hmacHex(secret, body)}`),
    };
  }
  const gitlabEvent = header(headers, 'x-gitlab-event');
  if (gitlabEvent !== undefined) {
    return {
      forge: 'gitlab',
      event: gitlabEvent,
      deliveryId: header(headers, 'x-gitlab-event-uuid') ?? header(headers, 'idempotency-key'),
      // GitLab sends the shared secret itself, not a signature of the body.
      authentic: sameSecret(header(headers, 'x-gitlab-token') ?? '', secret),
    };
  }
  return undefined;
}

const PUSH_EVENTS: Record<Forge, readonly string[]> = {
  github: ['push'],
  gitlab: ['Push Hook', 'Tag Push Hook'],
  gitea: ['push'],
};

const REPO_NAME = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)+$/;

export function readDelivery(headers: IncomingHttpHeaders, body: Buffer, secret: string): Delivery {
  const env = envelope(headers, body, secret);
  if (!env) return { kind: 'rejected', status: 400, reason: 'not a GitHub, GitLab, Gitea or Forgejo webhook (no event header)' };
  if (!env.authentic) return { kind: 'rejected', status: 403, reason: `${env.forge} delivery with a wrong or missing signature/token` };
  // Without a delivery id (older GitLab) the body itself identifies a replay.
  const deliveryId = env.deliveryId ?? `sha256:${createHash('sha256').update(body).digest('hex')}`;
  if (env.event === 'ping' || env.event === 'System Hook') return { kind: 'ping', forge: env.forge, deliveryId, event: env.event };
  if (!PUSH_EVENTS[env.forge].includes(env.event)) return { kind: 'ignored', forge: env.forge, deliveryId, event: env.event };

  let payload: unknown;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch {
    return { kind: 'rejected', status: 400, reason: `${env.forge} push with a body that is not JSON` };
  }
  const p = payload as { ref?: unknown; repository?: { full_name?: unknown }; project?: { path_with_namespace?: unknown } } | null;
  const repo = env.forge === 'gitlab' ? p?.project?.path_with_namespace : p?.repository?.full_name;
  const ref = p?.ref;
  if (typeof repo !== 'string' || !REPO_NAME.test(repo) || repo.split('/').some((part) => /^\.+$/.test(part)) || typeof ref !== 'string' || !ref.startsWith('refs/')) {
    return { kind: 'rejected', status: 400, reason: `${env.forge} push without a repository name and ref` };
  }
  return { kind: 'push', forge: env.forge, deliveryId, repo, ref };
}
