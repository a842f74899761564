import { createHmac, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Target } from '../../src/config/normalise.js';
import { serveSchema } from '../../src/config/schema.js';
import { DeliveryMemory } from '../../src/serve/deliveries.js';
import { formField, readDelivery, type Push } from '../../src/serve/forge.js';
import { allowEntryHasHost, allowNamesTarget, locateUrl, repoAllowed, targetLocation, targetsForPush, type LocatedTarget } from '../../src/serve/match.js';
import { CycleQueue } from '../../src/serve/queue.js';
import { DELIVERIES_KEPT } from '../../src/state/store.js';

const SECRET = 's3cret-s3cret-s3cret';
const FIXTURES = resolve(import.meta.dirname, '../fixtures/forges');
const fixture = (name: string): Buffer => Buffer.from(JSON.stringify(JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'))));
const hmac = (b: Buffer | string, secret = SECRET) => createHmac('sha256', secret).update(b).digest('hex');

/** Headers exactly as each forge sends them for a JSON delivery of `body`. */
const SIGNED: Record<string, (body: Buffer, event: string, secret?: string) => IncomingHttpHeaders> = {
  github: (b, event, s) => ({ 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': randomUUID(), 'x-hub-signature-256': `sha256=${hmac(b, s)}` }),
  gitea: (b, event, s) => ({
    'content-type': 'application/json',
    'x-gitea-event': event,
    'x-gitea-delivery': randomUUID(),
    'x-gitea-signature': hmac(b, s),
    'x-github-event': event,
    'x-hub-signature-256': `sha256=${hmac(b, s)}`,
  }),
  forgejo: (b, event, s) => ({
    'content-type': 'application/json',
    'x-forgejo-event': event,
    'x-forgejo-delivery': randomUUID(),
    'x-forgejo-signature': hmac(b, s),
    'x-gitea-event': event,
    'x-gitea-signature': hmac(b, s),
  }),
  gitlab: (_b, event, s) => ({ 'content-type': 'application/json', 'x-gitlab-event': event, 'x-gitlab-event-uuid': randomUUID(), 'x-gitlab-token': s ?? SECRET }),
  'bitbucket-cloud': (b, event, s) => ({
    'content-type': 'application/json',
    'x-event-key': event,
    'x-hook-uuid': randomUUID(),
    'x-request-uuid': randomUUID(),
    'x-attempt-number': '1',
    'x-hub-signature': `sha256=${hmac(b, s)}`,
  }),
  'bitbucket-server': (b, event, s) => ({ 'content-type': 'application/json; charset=utf-8', 'x-event-key': event, 'x-request-id': randomUUID(), 'x-hub-signature': `sha256=${hmac(b, s)}` }),
};

describe("each forge's published example payload, signed as that forge signs it", () => {
  it.each([
    ['github', 'github-push.json', 'push', 'github', 'Codertocat/Hello-World', ['github.com/codertocat/hello-world'], ['refs/tags/simple-tag']],
    ['gitea', 'gitea-push.json', 'push', 'gitea', 'gitea/webhooks', ['localhost/gitea/webhooks'], ['refs/heads/develop']],
    ['forgejo', 'forgejo-push.json', 'push', 'gitea', 'forgejo/webhooks', ['localhost/forgejo/webhooks'], ['refs/heads/develop']],
    ['gitlab', 'gitlab-push.json', 'Push Hook', 'gitlab', 'mike/diaspora', ['example.com/mike/diaspora'], ['refs/heads/master']],
    ['gitlab', 'gitlab-system-push.json', 'System Hook', 'gitlab', 'mike/diaspora', ['example.com/mike/diaspora'], ['refs/heads/master']],
    ['gitlab', 'gitlab-system-tag-push.json', 'System Hook', 'gitlab', 'jsmith/example', ['example.com/jsmith/example'], ['refs/tags/v1.0.0']],
    ['gitlab', 'gitlab-system-repository-update.json', 'System Hook', 'gitlab', 'jsmith/example', ['example.com/jsmith/example'], ['refs/heads/master']],
    ['bitbucket-cloud', 'bitbucket-cloud-push.json', 'repo:push', 'bitbucket-cloud', 'team_name/repo_name', ['bitbucket.org/team_name/repo_name'], ['refs/heads/name-of-branch']],
    [
      'bitbucket-server',
      'bitbucket-server-refs-changed.json',
      'repo:refs_changed',
      'bitbucket-server',
      'PROJ/repository',
      ['bitbucket.example.com/proj/repository', 'bitbucket.example.com/scm/proj/repository'],
      ['refs/heads/master'],
    ],
  ])('%s %s is a push of %s', (sender, file, event, forge, repo, where, refs) => {
    const body = fixture(file);
    const d = readDelivery(SIGNED[sender]!(body, event), body, SECRET);
    expect(d).toMatchObject({ kind: 'push', forge, repo, refs });
    const locations = (d as Push).locations.map((l) => `${l.host}/${l.path}`);
    for (const w of where) expect(locations).toContain(w);
  });

  it('a GitLab system hook for anything but a push (project_create) is ignored, not a ping, and queues nothing', () => {
    const body = fixture('gitlab-system-project-create.json');
    expect(readDelivery(SIGNED.gitlab!(body, 'System Hook'), body, SECRET)).toMatchObject({ kind: 'ignored', event: 'System Hook project_create' });
  });

  it('Bitbucket Data Center "Test connection" (diagnostics:ping) is a ping; other Bitbucket events are ignored', () => {
    const body = Buffer.from('{"test": true}');
    expect(readDelivery(SIGNED['bitbucket-server']!(body, 'diagnostics:ping'), body, SECRET)).toMatchObject({ kind: 'ping' });
    expect(readDelivery(SIGNED['bitbucket-cloud']!(body, 'pullrequest:created'), body, SECRET)).toMatchObject({ kind: 'ignored' });
  });

  it('a Bitbucket Cloud push that deletes a branch names it by its old name', () => {
    const payload = JSON.parse(fixture('bitbucket-cloud-push.json').toString()) as { push: { changes: { new: unknown }[] } };
    payload.push.changes[0]!.new = null;
    const body = Buffer.from(JSON.stringify(payload));
    expect(readDelivery(SIGNED['bitbucket-cloud']!(body, 'repo:push'), body, SECRET)).toMatchObject({ kind: 'push', refs: ['refs/heads/name-of-branch'] });
  });
});

describe('form-encoded deliveries (payload=<url-encoded JSON>)', () => {
  const json = fixture('gitea-push.json');
  const form = Buffer.from(new URLSearchParams({ payload: json.toString() }).toString());

  it('formField decodes to the exact bytes (+ is a space, %XX a byte, UTF-8 kept)', () => {
    const text = '{"a":"x y+z ü & = %"}';
    expect(formField(Buffer.from(new URLSearchParams({ other: '1', payload: text }).toString()), 'payload')?.toString()).toBe(text);
    expect(formField(Buffer.from('other=1'), 'payload')).toBeUndefined();
    expect(formField(Buffer.from('payload=%zz'), 'payload')).toBeUndefined();
  });

  it('GitHub signs the form body as sent, and the push inside is read', () => {
    const gh = Buffer.from(new URLSearchParams({ payload: fixture('github-push.json').toString() }).toString());
    const headers = { ...SIGNED.github!(gh, 'push'), 'content-type': 'application/x-www-form-urlencoded' };
    expect(readDelivery(headers, gh, SECRET)).toMatchObject({ kind: 'push', repo: 'Codertocat/Hello-World' });
    // A signature over the JSON inside is not GitHub's: refused.
    expect(readDelivery({ ...headers, 'x-hub-signature-256': `sha256=${hmac(fixture('github-push.json'))}` }, gh, SECRET)).toMatchObject({ kind: 'rejected', status: 403 });
  });

  it.each(['gitea', 'forgejo'])('%s signs the JSON inside the form, and the push is read', (sender) => {
    const headers = { ...SIGNED[sender]!(json, 'push'), 'content-type': 'application/x-www-form-urlencoded' };
    expect(readDelivery(headers, form, SECRET)).toMatchObject({ kind: 'push', forge: 'gitea', refs: ['refs/heads/develop'] });
    const raw = { ...SIGNED[sender]!(form, 'push'), 'content-type': 'application/x-www-form-urlencoded' };
    expect(readDelivery(raw, form, SECRET)).toMatchObject({ kind: 'rejected', status: 403 });
  });

  it('a GitHub form without a payload field is a 400 once signed', () => {
    const empty = Buffer.from('other=1');
    expect(readDelivery({ ...SIGNED.github!(empty, 'push'), 'content-type': 'application/x-www-form-urlencoded' }, empty, SECRET)).toMatchObject({
      kind: 'rejected',
      status: 400,
      reason: expect.stringMatching(/without a payload field/),
    });
  });
});

describe('rejections', () => {
  const body = fixture('github-push.json');
  const strip = (h: IncomingHttpHeaders, ...names: string[]) => Object.fromEntries(Object.entries(h).filter(([k]) => !names.includes(k)));
  // Every forge: no secret at all, and the wrong one. (GitLab: issue 18 item 5.)
  it.each([
    ['GitHub without a signature', strip(SIGNED.github!(body, 'push'), 'x-hub-signature-256')],
    ['GitHub with a wrong signature', SIGNED.github!(body, 'push', 'not-the-secret')],
    ['GitHub signed over another body', SIGNED.github!(Buffer.from('{}'), 'push')],
    ['Gitea without a signature', strip(SIGNED.gitea!(body, 'push'), 'x-gitea-signature')],
    ['Gitea with a wrong signature', SIGNED.gitea!(body, 'push', 'not-the-secret')],
    ['Forgejo without a signature', strip(SIGNED.forgejo!(body, 'push'), 'x-forgejo-signature', 'x-gitea-signature')],
    ['Forgejo with a wrong signature', SIGNED.forgejo!(body, 'push', 'not-the-secret')],
    ['GitLab without X-Gitlab-Token', strip(SIGNED.gitlab!(body, 'Push Hook'), 'x-gitlab-token')],
    ['GitLab with an empty token', SIGNED.gitlab!(body, 'Push Hook', '')],
    ['GitLab with a wrong token', SIGNED.gitlab!(body, 'Push Hook', 'not-the-secret')],
    ['GitLab with a prefix of the secret', SIGNED.gitlab!(body, 'Push Hook', SECRET.slice(0, 5))],
    ['GitLab system hook without a token', strip(SIGNED.gitlab!(body, 'System Hook'), 'x-gitlab-token')],
    ['GitLab system hook with a wrong token', SIGNED.gitlab!(body, 'System Hook', 'not-the-secret')],
    ['Bitbucket Cloud without a signature', strip(SIGNED['bitbucket-cloud']!(body, 'repo:push'), 'x-hub-signature')],
    ['Bitbucket Cloud with a wrong signature', SIGNED['bitbucket-cloud']!(body, 'repo:push', 'not-the-secret')],
    ['Bitbucket Data Center without a signature', strip(SIGNED['bitbucket-server']!(body, 'repo:refs_changed'), 'x-hub-signature')],
    ['Bitbucket Data Center with a wrong signature', SIGNED['bitbucket-server']!(body, 'repo:refs_changed', 'not-the-secret')],
  ])('%s → 403', (_name, headers) => {
    expect(readDelivery(headers, body, SECRET)).toMatchObject({ kind: 'rejected', status: 403 });
  });

  it('no event header at all → 400', () => {
    expect(readDelivery({}, body, SECRET)).toMatchObject({ kind: 'rejected', status: 400 });
  });

  it.each([
    ['8 KiB long', 'a'.repeat(8192)],
    ['129 characters', 'a'.repeat(129)],
    ['with a space', 'abc def'],
    ['with a newline', 'abc\ndef'],
    ['with a slash', '../../etc'],
  ])('a signed delivery whose id is %s → 400, never stored', (_name, id) => {
    expect(readDelivery({ ...SIGNED.github!(body, 'push'), 'x-github-delivery': id }, body, SECRET)).toMatchObject({ kind: 'rejected', status: 400, reason: expect.stringMatching(/delivery id/) });
  });

  it('signed pushes without repository URL, with a traversal name or an unreadable ref → 400', () => {
    const noUrl = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: 'acme/todo' } }));
    const traversal = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: '../../etc', html_url: 'https://github.com/acme/todo' } }));
    const badRef = Buffer.from(JSON.stringify({ ref: 'refs/heads/\u001b[31mred', repository: { full_name: 'acme/todo', html_url: 'https://github.com/acme/todo' } }));
    const escape = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: 'acme/todo', html_url: 'https://github.com/acme/%1b%5b31mtodo' } }));
    for (const b of [noUrl, traversal, badRef, escape]) expect(readDelivery(SIGNED.github!(b, 'push'), b, SECRET)).toMatchObject({ kind: 'rejected', status: 400 });
  });

  it('a replay under a new delivery id has the same digest; a different body has another', () => {
    const a = readDelivery(SIGNED.github!(body, 'push'), body, SECRET) as Push;
    const b = readDelivery(SIGNED.github!(body, 'push'), body, SECRET) as Push;
    expect(a.deliveryId).not.toBe(b.deliveryId);
    expect(a.digest).toBe(b.digest);
    const other = fixture('gitea-push.json');
    expect((readDelivery(SIGNED.github!(other, 'push'), other, SECRET) as Push).digest).not.toBe(a.digest);
  });
});

const target = (name: string, repo: string, extra: Partial<Target> = {}) => ({ name, repo, branch: 'main', ...extra }) as Target;
const located = (t: Target, resolvedHost?: string): LocatedTarget => ({ target: t, location: targetLocation(t.repo, resolvedHost) });

describe('mapping a push to targets: host and path', () => {
  it.each([
    ['git@github.com:Acme/Todo.git', 'github.com/acme/todo'],
    ['https://github.com/acme/todo', 'github.com/acme/todo'],
    ['ssh://git@gitlab.example.com:2222/group/sub/todo.git/', 'gitlab.example.com/group/sub/todo'],
    ['ssh://git@[::1]:2222/acme/todo.git', 'localhost/acme/todo'],
    ['http://127.0.0.1:3000/acme/todo.git', 'localhost/acme/todo'],
    ['file:///srv/gitea/repositories/acme/todo.git', 'localhost/srv/gitea/repositories/acme/todo'],
    ['/srv/git/acme/todo.git', 'localhost/srv/git/acme/todo'],
  ])('%s is at %s', (url, where) => {
    const l = locateUrl(url);
    expect(l && `${l.host}/${l.path}`).toBe(where);
  });

  const ghPush = [{ host: 'github.com', path: 'codertocat/hello-world' }];
  const glPush = [{ host: 'gitlab.com', path: 'codertocat/hello-world' }];

  it('a GitHub push for Codertocat/Hello-World does not poll the GitLab target of the same owner/name, and vice versa', () => {
    const targets = [located(target('gh', 'git@github.com:Codertocat/Hello-World.git')), located(target('gl', 'git@gitlab.com:Codertocat/Hello-World.git'))];
    expect(targetsForPush(targets, ghPush, ['refs/heads/main']).map((t) => t.name)).toEqual(['gh']);
    expect(targetsForPush(targets, glPush, ['refs/heads/main']).map((t) => t.name)).toEqual(['gl']);
  });

  it('an ssh alias matches through the HostName the target’s ssh config resolves it to, and only that host', () => {
    const alias = target('todo', 'git@github.com-repo-todo:Codertocat/Hello-World.git');
    expect(targetsForPush([located(alias, 'github.com')], ghPush, ['refs/heads/main']).map((t) => t.name)).toEqual(['todo']);
    expect(targetsForPush([located(alias, 'github.com')], glPush, ['refs/heads/main'])).toEqual([]);
    // Unresolved, the alias is only itself.
    expect(targetsForPush([located(alias)], ghPush, ['refs/heads/main'])).toEqual([]);
  });

  it('the path must be the same, not merely end in owner/name (a local repository excepted)', () => {
    expect(targetsForPush([located(target('x', 'https://github.com/evil/codertocat/hello-world'))], ghPush, ['refs/heads/main'])).toEqual([]);
    const local = located(target('gitea', 'file:///var/lib/gitea/repositories/gitea/webhooks.git'));
    expect(targetsForPush([local], [{ host: 'localhost', path: 'gitea/webhooks' }], ['refs/heads/main']).map((t) => t.name)).toEqual(['gitea']);
    expect(targetsForPush([local], [{ host: 'gitea.example.com', path: 'gitea/webhooks' }], ['refs/heads/main'])).toEqual([]);
  });

  it('branch targets match their branch; tag targets match any tag push; several refs in one push count', () => {
    const targets = [
      located(target('staging', 'git@github.com:acme/todo.git')),
      located(target('production', 'git@github.com:acme/todo.git', { tags: 'v*' })),
      located(target('blog', 'git@github.com:acme/blog.git')),
    ];
    const at = [{ host: 'github.com', path: 'acme/todo' }];
    expect(targetsForPush(targets, at, ['refs/heads/main']).map((t) => t.name)).toEqual(['staging']);
    expect(targetsForPush(targets, at, ['refs/tags/v1.2.0']).map((t) => t.name)).toEqual(['production']);
    expect(targetsForPush(targets, at, ['refs/heads/feature', 'refs/tags/v2']).map((t) => t.name)).toEqual(['production']);
    expect(targetsForPush(targets, at, ['refs/heads/feature'])).toEqual([]);
  });

  it('serve.allow entries name the host too; owner/* is one level', () => {
    expect(repoAllowed(['GitHub.com/Acme/Todo'], [{ host: 'github.com', path: 'acme/todo' }])).toBe(true);
    expect(repoAllowed(['github.com/acme/todo'], [{ host: 'gitlab.com', path: 'acme/todo' }])).toBe(false);
    expect(repoAllowed(['github.com/acme/*'], [{ host: 'github.com', path: 'acme/blog' }])).toBe(true);
    expect(repoAllowed(['github.com/acme/*'], [{ host: 'github.com', path: 'acme/sub/blog' }])).toBe(false);
    expect(repoAllowed(['github.com/acme/todo'], [{ host: 'github.com', path: 'evil/todo' }])).toBe(false);
    expect(allowNamesTarget('github.com/acme/todo', targetLocation('git@github.com-repo-todo:acme/todo.git', 'github.com')!)).toBe(true);
    // The deprecated owner/name form matches the path only; serve still queues a delivery
    // only for a target whose host and path both match (targetsOfRepository).
    expect(allowEntryHasHost('acme/todo')).toBe(false);
    expect(allowEntryHasHost('github.com/acme/todo')).toBe(true);
    expect(repoAllowed(['acme/todo'], [{ host: 'gitlab.com', path: 'acme/todo' }])).toBe(true);
    expect(repoAllowed(['acme/todo'], [{ host: 'gitlab.com', path: 'evil/todo' }])).toBe(false);
    expect(allowNamesTarget('localhost/gitea/webhooks', targetLocation('/var/lib/gitea/repositories/gitea/webhooks.git')!)).toBe(true);
  });

  it.each([
    ['github.com/acme/todo', true],
    ['gitlab.example.com/group/sub/*', true],
    ['localhost/acme/todo', true],
    ['acme/todo', true], // deprecated owner/name: read, warned about by serve
    ['acme/*', true],
    ['github.com/todo', true], // read as the deprecated owner/name form
    ['todo', false],
    ['github.com/acme/', false],
    ['-x/todo', true], // a path segment, never an option: matched as text only
  ])('serve.allow entry %s is valid: %s', (entry, ok) => {
    expect(serveSchema.safeParse({ secret_file: '/x', allow: [entry] }).success).toBe(ok);
  });
});

describe('the delivery memory', () => {
  const stateDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'pollpray-deliveries-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  };
  const digest = (n: number) => n.toString(16).padStart(64, '0');

  it('recognises a redelivery by id and a replay by body, also after a restart', () => {
    const dir = stateDir();
    const m = new DeliveryMemory(dir);
    expect(m.seen('id-1', digest(1))).toBeUndefined();
    m.remember('id-1', digest(1));
    const again = new DeliveryMemory(dir);
    expect(again.seen('id-1', digest(2))).toBe('id');
    expect(again.seen('id-2', digest(1))).toBe('body');
    expect(again.seen('id-2', digest(2))).toBeUndefined();
  });

  it(`keeps the newest ${DELIVERIES_KEPT}`, () => {
    const dir = stateDir();
    mkdirSync(join(dir, 'serve'));
    const full = Array.from({ length: DELIVERIES_KEPT }, (_, i) => ({ id: `id-${i}`, digest: digest(i) }));
    writeFileSync(join(dir, 'serve', 'deliveries.json'), JSON.stringify({ version: 2, deliveries: full }));
    const m = new DeliveryMemory(dir);
    expect(m.seen('id-0', digest(0))).toBe('id');
    m.remember(`id-${DELIVERIES_KEPT}`, digest(DELIVERIES_KEPT));
    expect(m.seen('id-0', digest(0))).toBeUndefined();
    const again = new DeliveryMemory(dir);
    expect(again.seen('id-0', digest(0))).toBeUndefined();
    expect(again.seen(`id-${DELIVERIES_KEPT}`, digest(0))).toBe('id');
  });

  it.each([
    ['an 8 KiB id', { version: 2, deliveries: [{ id: 'a'.repeat(8192), digest: digest(1) }] }],
    ['a digest that is not one', { version: 2, deliveries: [{ id: 'id-1', digest: 'xyz' }] }],
    ['wrong types', { version: 2, deliveries: null }],
    ['too many records', { version: 2, deliveries: Array.from({ length: DELIVERIES_KEPT + 1 }, (_, i) => ({ id: `id-${i}`, digest: digest(i) })) }],
    ['the old format', { version: 1, ids: ['a'.repeat(8192)] }],
    ['not JSON', '{"version": 2, '],
  ])('a file with %s is moved aside, not trusted', (_name, content) => {
    const dir = stateDir();
    mkdirSync(join(dir, 'serve'));
    const file = join(dir, 'serve', 'deliveries.json');
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    const m = new DeliveryMemory(dir);
    expect(m.movedAside).toMatch(/deliveries\.json\.corrupt-/);
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(join(dir, 'serve')).filter((f) => f.includes('corrupt'))).toHaveLength(1);
    m.remember('id-1', digest(1));
    expect(new DeliveryMemory(dir).seen('id-1', digest(9))).toBe('id');
  });
});

describe('the cycle queue', () => {
  it('runs one target at a time, coalesces a waiting target, and stop() waits for running work', async () => {
    const started: string[] = [];
    const gates = new Map<string, () => void>();
    const queue = new CycleQueue(2, (t) => {
      started.push(t);
      return new Promise<void>((resolve) => gates.set(t, resolve));
    });
    expect(queue.add('a', 'd1')).toBe(true);
    expect(queue.add('a', 'd2')).toBe(true); // a runs; this one waits
    expect(queue.add('a', 'd3')).toBe(false); // already waiting: coalesced
    expect(queue.add('b', 'd4')).toBe(true);
    expect(started).toEqual(['a', 'b']);
    expect(queue.snapshot()).toMatchObject({ queue_length: 1, queue: [{ target: 'a', delivery: 'd2' }] });
    const stopping = queue.stop();
    gates.get('a')?.();
    gates.get('b')?.();
    expect(await stopping).toBe(1);
    expect(started).toEqual(['a', 'b']);
  });
});
