/**
 * Reads a webhook delivery from GitHub, GitLab (project, group and system hooks),
 * Gitea, Forgejo, Bitbucket Cloud or Bitbucket Data Center: which forge sent it,
 * whether its secret checks out (in constant time), and which repository and refs were
 * pushed. Pure over headers and the raw body, so every rejection is table-tested.
 *
 * The body is interpreted only after the signature verified, with one exception the
 * forges force on us: Gitea and Forgejo sign the JSON but, with the form content type,
 * send it URL-encoded as `payload=…`, so that one field is percent-decoded (nothing
 * else) to have the bytes they signed.
 *
 * What a delivery can do is bounded: it names a repository and refs, and the targets
 * that follow them run their normal cycle. No commit id, path or command from a
 * payload is used for anything.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { locateUrl, type RepoLocation } from './match.js';

export type Forge = 'github' | 'gitlab' | 'gitea' | 'bitbucket-cloud' | 'bitbucket-server';

export const FORGE_NAMES: Record<Forge, string> = {
  github: 'GitHub',
  gitlab: 'GitLab',
  gitea: 'Gitea/Forgejo',
  'bitbucket-cloud': 'Bitbucket Cloud',
  'bitbucket-server': 'Bitbucket Data Center',
};

export interface Push {
  kind: 'push';
  forge: Forge;
  deliveryId: string;
  /** sha256 (hex) of the signed bytes: a replay under a new delivery id has the same one. */
  digest: string;
  /** For logs: `owner/name` (GitLab: the full namespace path; Bitbucket DC: `PROJECT/slug`). */
  repo: string;
  /** Where the payload says the repository lives (web and clone URLs). Matching uses these. */
  locations: RepoLocation[];
  /** `refs/heads/main`, `refs/tags/v1.2.0`; one or more (Bitbucket and GitLab's repository_update carry several). */
  refs: string[];
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

/** Forges use UUIDs or GUIDs; anything longer or stranger is not a forge's delivery id and is never stored. */
export const DELIVERY_ID = /^[A-Za-z0-9{][A-Za-z0-9._:{}-]{0,127}$/;
/** A push names at most this many refs (Bitbucket sends one change per ref; forges cap pushes far lower). */
const MAX_REFS = 100;

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

function isForm(headers: IncomingHttpHeaders): boolean {
  return /^application\/x-www-form-urlencoded\b/i.test(header(headers, 'content-type') ?? '');
}

/**
 * The raw bytes of one field of an `application/x-www-form-urlencoded` body (`+` is a
 * space, `%XX` a byte), decoded to bytes rather than a string so that a signature over
 * the original bytes still verifies. Undefined when the field is absent or malformed.
 */
export function formField(body: Buffer, name: string): Buffer | undefined {
  for (const pair of body.toString('latin1').split('&')) {
    const eq = pair.indexOf('=');
    if ((eq < 0 ? pair : pair.slice(0, eq)) !== name) continue;
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    const bytes: number[] = [];
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c === 0x2b) bytes.push(0x20);
      else if (c === 0x25) {
        const hex = value.slice(i + 1, i + 3);
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
        bytes.push(parseInt(hex, 16));
        i += 2;
      } else bytes.push(c);
    }
    return Buffer.from(bytes);
  }
  return undefined;
}

interface Envelope {
  forge: Forge;
  event: string;
  /** The delivery id header as sent (validated later), if the forge sends one. */
  deliveryId: string | undefined;
  authentic: boolean;
  /** The bytes the forge signed (what a replay is recognised by). */
  signed: Buffer;
  /** The JSON document, once authentic; undefined when a form body has no `payload` field. */
  json: Buffer | undefined;
}

function envelope(headers: IncomingHttpHeaders, body: Buffer, secret: string): Envelope | undefined {
  // Gitea and Forgejo also send X-GitHub-Event (and X-Hub-Signature-256) for
  // compatibility: ask for them first. Both sign the JSON document itself, also when
  // the hook's content type is form and the body is `payload=<url-encoded JSON>`
  // (Gitea services/webhook/deliver.go, Forgejo the same: HMAC over PayloadContent).
  const giteaEvent = header(headers, 'x-forgejo-event') ?? header(headers, 'x-gitea-event');
  if (giteaEvent !== undefined) {
    const signature = header(headers, 'x-forgejo-signature') ?? header(headers, 'x-gitea-signature') ?? '';
    const json = isForm(headers) ? formField(body, 'payload') : body;
    const signed = json ?? body;
    return {
      forge: 'gitea',
      event: giteaEvent,
      deliveryId: header(headers, 'x-forgejo-delivery') ?? header(headers, 'x-gitea-delivery'),
      authentic: json !== undefined && sameSecret(signature.toLowerCase(), hmacHex(secret, signed)),
      signed,
      json,
    };
  }
  // GitHub signs the body exactly as sent, form-encoded or not.
  const githubEvent = header(headers, 'x-github-event');
  if (githubEvent !== undefined) {
    const signature = header(headers, 'x-hub-signature-256') ?? '';
    return {
      forge: 'github',
      event: githubEvent,
      deliveryId: header(headers, 'x-github-delivery'),
      authentic: sameSecret(signature.toLowerCase(), `sha256=${hmacHex(secret, body)}`),
      signed: body,
      json: isForm(headers) ? formField(body, 'payload') : body,
    };
  }
  const gitlabEvent = header(headers, 'x-gitlab-event');
  if (gitlabEvent !== undefined) {
    const token = header(headers, 'x-gitlab-token');
    return {
      forge: 'gitlab',
      event: gitlabEvent,
      deliveryId: header(headers, 'x-gitlab-event-uuid') ?? header(headers, 'idempotency-key'),
      // GitLab sends the shared secret itself, not a signature of the body; no token, no entry.
      authentic: token !== undefined && token !== '' && sameSecret(token, secret),
      signed: body,
      json: body,
    };
  }
  // Bitbucket Cloud and Data Center both send X-Event-Key and sign the raw body with
  // HMAC-SHA256 in X-Hub-Signature (`sha256=<hex>`). Cloud identifies its requests
  // with X-Request-UUID (and X-Hook-UUID), Data Center with X-Request-Id.
  const bitbucketEvent = header(headers, 'x-event-key');
  if (bitbucketEvent !== undefined) {
    const cloud = header(headers, 'x-hook-uuid') !== undefined || header(headers, 'x-request-uuid') !== undefined;
    const signature = header(headers, 'x-hub-signature') ?? '';
    return {
      forge: cloud ? 'bitbucket-cloud' : 'bitbucket-server',
      event: bitbucketEvent,
      deliveryId: cloud ? header(headers, 'x-request-uuid') : header(headers, 'x-request-id'),
      authentic: sameSecret(signature.toLowerCase(), `sha256=${hmacHex(secret, body)}`),
      signed: body,
      json: body,
    };
  }
  return undefined;
}

type Kind = 'push' | 'ping' | 'other';

function kindOf(forge: Forge, event: string, payload: unknown): Kind {
  switch (forge) {
    case 'github':
    case 'gitea':
      return event === 'push' ? 'push' : event === 'ping' ? 'ping' : 'other';
    case 'gitlab': {
      if (event === 'Push Hook' || event === 'Tag Push Hook') return 'push';
      if (event !== 'System Hook') return 'other';
      // System hooks say what happened in the body; pushes come as push, tag_push and
      // (once per push, several refs) repository_update.
      const name = (payload as { event_name?: unknown } | null)?.event_name;
      return name === 'push' || name === 'tag_push' || name === 'repository_update' ? 'push' : 'other';
    }
    case 'bitbucket-cloud':
      return event === 'repo:push' ? 'push' : 'other';
    case 'bitbucket-server':
      return event === 'repo:refs_changed' ? 'push' : event === 'diagnostics:ping' ? 'ping' : 'other';
  }
}

const str = z.string().max(2048);
const githubLike = z.object({
  ref: str,
  repository: z.object({ full_name: str, html_url: str.optional(), clone_url: str.optional(), ssh_url: str.optional() }),
});
const gitlabProject = z.object({
  path_with_namespace: str,
  web_url: str.optional(),
  git_ssh_url: str.optional(),
  git_http_url: str.optional(),
});
const gitlabPush = z.object({ ref: str, project: gitlabProject });
const gitlabRepositoryUpdate = z.object({ refs: z.array(str).min(1), project: gitlabProject });
const bitbucketRef = z.object({ type: str, name: str });
const bitbucketCloud = z.object({
  repository: z.object({ full_name: str }),
  push: z.object({ changes: z.array(z.object({ new: bitbucketRef.nullable().optional(), old: bitbucketRef.nullable().optional() })).min(1) }),
});
const bitbucketServer = z.object({
  repository: z.object({
    slug: str,
    project: z.object({ key: str }),
    links: z.object({ clone: z.array(z.object({ href: str })).optional() }).optional(),
  }),
  changes: z.array(z.object({ refId: str.optional(), ref: z.object({ id: str }).optional() })).min(1),
});

interface Pushed {
  repo: string;
  urls: string[];
  /** Used when the forge's URLs are implied rather than sent (Bitbucket Cloud lives on bitbucket.org only). */
  extra?: RepoLocation[];
  refs: string[];
}

function defined<T>(values: (T | undefined)[]): T[] {
  return values.filter((v): v is T => v !== undefined);
}

function readPush(forge: Forge, payload: unknown): Pushed | undefined {
  switch (forge) {
    case 'github':
    case 'gitea': {
      const p = githubLike.safeParse(payload);
      if (!p.success) return undefined;
      const r = p.data.repository;
      return { repo: r.full_name, urls: defined([r.html_url, r.clone_url, r.ssh_url]), refs: [p.data.ref] };
    }
    case 'gitlab': {
      const push = gitlabPush.safeParse(payload);
      const update = gitlabRepositoryUpdate.safeParse(payload);
      const data = push.success ? { project: push.data.project, refs: [push.data.ref] } : update.success ? update.data : undefined;
      if (!data) return undefined;
      const pr = data.project;
      return { repo: pr.path_with_namespace, urls: defined([pr.web_url, pr.git_http_url, pr.git_ssh_url]), refs: data.refs };
    }
    case 'bitbucket-cloud': {
      const p = bitbucketCloud.safeParse(payload);
      if (!p.success) return undefined;
      const refs: string[] = [];
      for (const change of p.data.push.changes) {
        // A deleted branch or tag has no `new`: the old name says which ref moved.
        const ref = change.new ?? change.old;
        if (!ref) continue;
        if (ref.type === 'branch' || ref.type === 'named_branch') refs.push(`refs/heads/${ref.name}`);
        else if (ref.type === 'tag' || ref.type === 'annotated_tag') refs.push(`refs/tags/${ref.name}`);
      }
      const name = p.data.repository.full_name;
      return { repo: name, urls: [], extra: [{ host: 'bitbucket.org', path: name.toLowerCase() }], refs };
    }
    case 'bitbucket-server': {
      const p = bitbucketServer.safeParse(payload);
      if (!p.success) return undefined;
      const r = p.data.repository;
      return {
        repo: `${r.project.key}/${r.slug}`,
        urls: (r.links?.clone ?? []).map((c) => c.href),
        refs: defined(p.data.changes.map((c) => c.refId ?? c.ref?.id)),
      };
    }
  }
}

const REPO_NAME = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)+$/;
const safeName = (name: string) => REPO_NAME.test(name) && !name.split('/').some((part) => /^\.+$/.test(part));
/** A ref as git allows it, without control characters, spaces or `..`, so it can be logged and compared as is. */
const safeRef = (ref: string) => /^refs\/[^\s\x00-\x1f\x7f~^:?*[\\]+$/.test(ref) && !ref.includes('..') && ref.length <= 512;

export function readDelivery(headers: IncomingHttpHeaders, body: Buffer, secret: string): Delivery {
  const env = envelope(headers, body, secret);
  if (!env) return { kind: 'rejected', status: 400, reason: 'not a GitHub, GitLab, Gitea, Forgejo or Bitbucket webhook (no event header)' };
  const forge = FORGE_NAMES[env.forge];
  if (!env.authentic) {
    const why = env.forge === 'gitea' && env.json === undefined ? 'a form body without a payload field' : `a wrong or missing ${env.forge === 'gitlab' ? 'token' : 'signature'}`;
    return { kind: 'rejected', status: 403, reason: `${forge} delivery with ${why}` };
  }
  const digest = createHash('sha256').update(env.signed).digest('hex');
  // Without a delivery id (older GitLab) the body itself identifies a replay.
  const deliveryId = env.deliveryId ?? `sha256:${digest}`;
  if (!DELIVERY_ID.test(deliveryId)) {
    return { kind: 'rejected', status: 400, reason: `${forge} delivery id is not an id (at most 128 letters, digits and ._:{}-)` };
  }
  if (env.json === undefined) return { kind: 'rejected', status: 400, reason: `${forge} form delivery without a payload field` };

  // The event header alone decides for every forge but GitLab's system hooks.
  let payload: unknown;
  const parse = (): boolean => {
    try {
      payload = JSON.parse((env.json as Buffer).toString('utf8'));
      return true;
    } catch {
      return false;
    }
  };
  const needsBody = env.forge === 'gitlab' && env.event === 'System Hook';
  if (needsBody && !parse()) return { kind: 'rejected', status: 400, reason: `${forge} delivery with a body that is not JSON` };
  const kind = kindOf(env.forge, env.event, payload);
  if (kind === 'ping') return { kind: 'ping', forge: env.forge, deliveryId, event: env.event };
  // Only what kindOf calls a push goes on; anything else is ignored.
  if (kind !== 'push') {
    const what = needsBody ? `${env.event} ${String((payload as { event_name?: unknown } | null)?.event_name ?? '?')}` : env.event;
    return { kind: 'ignored', forge: env.forge, deliveryId, event: what.replace(/[^A-Za-z0-9 _:.-]/g, '?').slice(0, 60) };
  }
  if (!needsBody && !parse()) return { kind: 'rejected', status: 400, reason: `${forge} push with a body that is not JSON` };

  const pushed = readPush(env.forge, payload);
  // Hosts and paths end up in log lines: only the characters repository URLs use.
  const locations = pushed
    ? [...defined(pushed.urls.map(locateUrl)).map(({ host, path }) => ({ host, path })), ...(pushed.extra ?? [])].filter(
        (l) => /^[a-z0-9.:-]+$/.test(l.host) && /^[a-z0-9_.~+-]+(?:\/[a-z0-9_.~+-]+)*$/.test(l.path),
      )
    : [];
  if (!pushed || !safeName(pushed.repo) || locations.length === 0) {
    return { kind: 'rejected', status: 400, reason: `${forge} push without a repository name and URL` };
  }
  if (pushed.refs.length === 0 || pushed.refs.length > MAX_REFS || !pushed.refs.every(safeRef)) {
    return { kind: 'rejected', status: 400, reason: `${forge} push without a readable ref (refs/…)` };
  }
  return { kind: 'push', forge: env.forge, deliveryId, digest, repo: pushed.repo, locations, refs: [...new Set(pushed.refs)] };
}
