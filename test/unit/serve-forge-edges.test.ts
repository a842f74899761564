/**
 * Deliveries at the edges, built here and signed as each forge signs them: which forge
 * a delivery is read as, which refs and repository it names, and what is refused.
 */
import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { formField, readDelivery, type Push } from '../../src/serve/forge.js';

const SECRET = 'edge-secret-edge-secret';
const hmac = (b: Buffer | string) => createHmac('sha256', SECRET).update(b).digest('hex');
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const gh = (ref: string, repo = 'acme/app', extra: Record<string, unknown> = {}) => json({ ref, repository: { full_name: repo, html_url: `https://github.com/${repo}`, ...extra } });
const ghHeaders = (b: Buffer, event = 'push', more: IncomingHttpHeaders = {}): IncomingHttpHeaders => ({ 'x-github-event': event, 'x-github-delivery': 'id-1', 'x-hub-signature-256': `sha256=${hmac(b)}`, ...more });
const read = (headers: IncomingHttpHeaders, body: Buffer) => readDelivery(headers, body, SECRET);

describe('which forge, which id', () => {
  it('Forgejo alone (no Gitea headers) is read as Gitea/Forgejo with its own id and signature', () => {
    const b = gh('refs/heads/main');
    expect(read({ 'x-forgejo-event': 'push', 'x-forgejo-delivery': 'fj-1', 'x-forgejo-signature': hmac(b).toUpperCase() }, b)).toMatchObject({ kind: 'push', forge: 'gitea', deliveryId: 'fj-1' });
    expect(read({ 'x-gitea-event': 'push', 'x-gitea-delivery': 'gt-1', 'x-gitea-signature': hmac(b) }, b)).toMatchObject({ kind: 'push', forge: 'gitea', deliveryId: 'gt-1' });
    expect(read({ 'x-gitea-event': 'push', 'x-gitea-signature': 'ab' }, b)).toEqual({ kind: 'rejected', status: 403, reason: 'Gitea/Forgejo delivery with a wrong or missing signature' });
    expect(read({ 'x-gitea-event': 'push' }, b)).toMatchObject({ status: 403 });
  });

  it('a Gitea form delivery without a payload field is refused as such', () => {
    const b = Buffer.from('other=1');
    expect(read({ 'x-gitea-event': 'push', 'content-type': 'application/x-www-form-urlencoded', 'x-gitea-signature': hmac(b) }, b)).toEqual({
      kind: 'rejected',
      status: 403,
      reason: 'Gitea/Forgejo delivery with a form body without a payload field',
    });
    // A content type that merely mentions form encoding later is not a form.
    const plain = gh('refs/heads/main');
    expect(read({ ...ghHeaders(plain), 'content-type': 'text/plain; x=application/x-www-form-urlencoded' }, plain)).toMatchObject({ kind: 'push' });
  });

  it('GitLab: a missing or empty token is refused; the id comes from X-Gitlab-Event-UUID, else Idempotency-Key, else the body', () => {
    const b = json({ ref: 'refs/heads/main', project: { path_with_namespace: 'acme/app', web_url: 'https://gitlab.com/acme/app' } });
    expect(read({ 'x-gitlab-event': 'Push Hook' }, b)).toEqual({ kind: 'rejected', status: 403, reason: 'GitLab delivery with a wrong or missing token' });
    expect(read({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': '' }, b)).toMatchObject({ status: 403 });
    expect(read({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET, 'idempotency-key': 'idem-1' }, b)).toMatchObject({ kind: 'push', forge: 'gitlab', deliveryId: 'idem-1' });
    expect(read({ 'x-gitlab-event': 'Tag Push Hook', 'x-gitlab-token': SECRET, 'x-gitlab-event-uuid': 'uuid-1', 'idempotency-key': 'idem-1' }, b)).toMatchObject({ kind: 'push', deliveryId: 'uuid-1' });
    const d = read({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET }, b) as Push;
    expect(d.deliveryId).toBe(`sha256:${d.digest}`);
    expect(read({ 'x-gitlab-event': 'Note Hook', 'x-gitlab-token': SECRET }, b)).toMatchObject({ kind: 'ignored', event: 'Note Hook' });
  });

  it('GitLab system hooks: a body that is not JSON is refused; a null body is ignored; a repository_update with no refs is not a push', () => {
    const h = { 'x-gitlab-event': 'System Hook', 'x-gitlab-token': SECRET };
    expect(read(h, Buffer.from('{'))).toEqual({ kind: 'rejected', status: 400, reason: 'GitLab delivery with a body that is not JSON' });
    expect(read(h, Buffer.from('null'))).toMatchObject({ kind: 'ignored', event: 'System Hook ?' });
    expect(read(h, json({ event_name: 'repository_update', refs: [], project: { path_with_namespace: 'a/b', web_url: 'https://gitlab.com/a/b' } }))).toMatchObject({ kind: 'rejected', status: 400 });
    expect(read(h, json({ event_name: 'tag_push', ref: 'refs/tags/v1', project: { path_with_namespace: 'a/b', web_url: 'https://gitlab.com/a/b' } }))).toMatchObject({ kind: 'push', refs: ['refs/tags/v1'] });
    expect(read(h, json({ event_name: 'x<y>'.repeat(30) }))).toMatchObject({ kind: 'ignored', event: `System Hook ${'x?y?'.repeat(30)}`.slice(0, 60) });
  });

  it('Bitbucket: Cloud by X-Hook-UUID or X-Request-UUID (its id), Data Center by X-Request-Id', () => {
    const cloud = json({ repository: { full_name: 'team/repo' }, push: { changes: [{ new: { type: 'named_branch', name: 'main' } }, { old: { type: 'annotated_tag', name: 'v1' }, new: null }, { new: { type: 'tag', name: 'v2' } }, { new: null, old: null }, { new: { type: 'commit', name: 'x' } }] } });
    const sig = { 'x-event-key': 'repo:push', 'x-hub-signature': `sha256=${hmac(cloud)}` };
    expect(read({ ...sig, 'x-hook-uuid': 'h-1' }, cloud)).toMatchObject({ kind: 'push', forge: 'bitbucket-cloud', deliveryId: `sha256:${(read({ ...sig, 'x-hook-uuid': 'h' }, cloud) as Push).digest}` });
    expect(read({ ...sig, 'x-request-uuid': 'r-1' }, cloud)).toMatchObject({
      kind: 'push',
      forge: 'bitbucket-cloud',
      deliveryId: 'r-1',
      repo: 'team/repo',
      locations: [{ host: 'bitbucket.org', path: 'team/repo' }],
      refs: ['refs/heads/main', 'refs/tags/v1', 'refs/tags/v2'],
    });
    expect(read({ ...sig, 'x-request-id': 'dc-1' }, cloud)).toMatchObject({ forge: 'bitbucket-server', deliveryId: 'dc-1', kind: 'ignored' });
    expect(read({ ...sig, 'x-event-key': 'repo:fork', 'x-request-uuid': 'r' }, cloud)).toMatchObject({ kind: 'ignored', event: 'repo:fork' });
    const onlyCommits = json({ repository: { full_name: 'team/repo' }, push: { changes: [{ new: { type: 'commit', name: 'x' } }] } });
    expect(read({ 'x-event-key': 'repo:push', 'x-hub-signature': `sha256=${hmac(onlyCommits)}`, 'x-request-uuid': 'r' }, onlyCommits)).toEqual({
      kind: 'rejected',
      status: 400,
      reason: 'Bitbucket Cloud push without a readable ref (refs/…)',
    });
  });

  it('Bitbucket Data Center: refs from refId or ref.id; no clone links is no repository URL', () => {
    const body = (links: unknown) => json({ repository: { slug: 'repo', project: { key: 'PROJ' }, ...links }, changes: [{ refId: 'refs/heads/main' }, { ref: { id: 'refs/tags/v1' } }, {}] });
    const withLinks = body({ links: { clone: [{ href: 'ssh://git@bb.example.com:7999/proj/repo.git' }] } });
    expect(read({ 'x-event-key': 'repo:refs_changed', 'x-request-id': 'x', 'x-hub-signature': `sha256=${hmac(withLinks)}` }, withLinks)).toMatchObject({
      kind: 'push',
      forge: 'bitbucket-server',
      repo: 'PROJ/repo',
      refs: ['refs/heads/main', 'refs/tags/v1'],
      locations: [{ host: 'bb.example.com', path: 'proj/repo' }],
    });
    const bare = body({});
    expect(read({ 'x-event-key': 'repo:refs_changed', 'x-hub-signature': `sha256=${hmac(bare)}` }, bare)).toEqual({
      kind: 'rejected',
      status: 400,
      reason: 'Bitbucket Data Center push without a repository name and URL',
    });
    expect(read({ 'x-event-key': 'diagnostics:ping', 'x-hub-signature': `sha256=${hmac(bare)}` }, bare)).toMatchObject({ kind: 'ping' });
    expect(read({ 'x-event-key': 'pr:opened', 'x-hub-signature': `sha256=${hmac(bare)}` }, bare)).toMatchObject({ kind: 'ignored' });
  });
});

describe('what a signed GitHub push may name', () => {
  it.each([
    ['a body that is not JSON', Buffer.from('{'), 'GitHub push with a body that is not JSON'],
    ['no repository', json({ ref: 'refs/heads/main' }), 'GitHub push without a repository name and URL'],
    ['a one-part name', gh('refs/heads/main', 'app'), 'GitHub push without a repository name and URL'],
    ['a traversal part', gh('refs/heads/main', 'acme/..'), 'GitHub push without a repository name and URL'],
    ['a name with a space', gh('refs/heads/main', 'x acme/app'), 'GitHub push without a repository name and URL'],
    ['a name with a newline after it', gh('refs/heads/main', 'acme/app\nx'), 'GitHub push without a repository name and URL'],
    ['a host with a control character', json({ ref: 'refs/heads/main', repository: { full_name: 'acme/app', html_url: 'https://exa%01mple.com/acme/app' } }), 'GitHub push without a repository name and URL'],
    ['a path with a space', json({ ref: 'refs/heads/main', repository: { full_name: 'acme/app', html_url: 'https://github.com/acme/a%20pp' } }), 'GitHub push without a repository name and URL'],
    ['a ref outside refs/', gh('heads/main'), 'GitHub push without a readable ref (refs/…)'],
    ['a ref with ..', gh('refs/heads/a..b'), 'GitHub push without a readable ref (refs/…)'],
    ['a ref with a space', gh('refs/heads/a b'), 'GitHub push without a readable ref (refs/…)'],
    ['a ref prefixed', gh('xrefs/heads/main'), 'GitHub push without a readable ref (refs/…)'],
    ['a ref over 512 characters', gh(`refs/heads/${'a'.repeat(502)}`), 'GitHub push without a readable ref (refs/…)'],
  ])('%s is a 400', (_what, body, reason) => {
    expect(read(ghHeaders(body), body)).toEqual({ kind: 'rejected', status: 400, reason });
  });

  it('a ref of exactly 512 characters, and names with dots, are fine; a bad delivery id is a 400', () => {
    const ok = gh(`refs/heads/${'a'.repeat(501)}`, 'acme.io/app.v2', {});
    expect(read(ghHeaders(ok), ok)).toMatchObject({ kind: 'push', repo: 'acme.io/app.v2' });
    expect(read(ghHeaders(ok, 'push', { 'x-github-delivery': 'bad id' }), ok)).toEqual({ kind: 'rejected', status: 400, reason: 'GitHub delivery id is not an id (at most 128 letters, digits and ._:{}-)' });
    expect(read(ghHeaders(ok, 'push', { 'x-github-delivery': ['first-id', 'second'] }), ok)).toMatchObject({ deliveryId: 'first-id' });
  });

  it('a GitLab repository_update names up to 100 refs (deduplicated after counting); more is a 400', () => {
    const h = { 'x-gitlab-event': 'System Hook', 'x-gitlab-token': SECRET };
    const upd = (refs: string[]) => json({ event_name: 'repository_update', refs, project: { path_with_namespace: 'a/b', git_http_url: 'https://gitlab.com/a/b.git' } });
    const hundred = Array.from({ length: 100 }, (_, i) => `refs/heads/b${i}`);
    expect((read(h, upd([...hundred.slice(0, 99), 'refs/heads/b0'])) as Push).refs).toEqual(hundred.slice(0, 99));
    expect((read(h, upd(hundred)) as Push).refs).toHaveLength(100);
    expect(read(h, upd([...hundred, 'refs/heads/b0']))).toMatchObject({ kind: 'rejected', status: 400 });
  });

  it('a GitHub form delivery: the payload field is found by its exact name', () => {
    expect(formField(Buffer.from('payloadx=1&payload=%7B%7D'), 'payload')).toEqual(Buffer.from('{}'));
    expect(formField(Buffer.from('payload'), 'payload')).toEqual(Buffer.from(''));
    expect(formField(Buffer.from('=x&payload=a'), 'payload')).toEqual(Buffer.from('a'));
    expect(formField(Buffer.from('payload=%4'), 'payload')).toBeUndefined();
    expect(formField(Buffer.from('payload=%4g'), 'payload')).toBeUndefined();
    expect(formField(Buffer.from('payload=%g41'), 'payload')).toBeUndefined();
    expect(formField(Buffer.from('a=1'), 'payload')).toBeUndefined();
  });
});

describe('what decides (each found by a mutant that survived)', () => {
  it('a request without any forge event header is refused with the forges it knows', () => {
    expect(read({ 'content-type': 'application/json' }, gh('refs/heads/main'))).toEqual({
      kind: 'rejected',
      status: 400,
      reason: 'not a GitHub, GitLab, Gitea, Forgejo or Bitbucket webhook (no event header)',
    });
  });

  it('an unsigned GitHub form body without a payload field is refused for its signature, not its form', () => {
    const b = Buffer.from('other=1');
    expect(read({ 'x-github-event': 'push', 'content-type': 'application/x-www-form-urlencoded' }, b)).toEqual({
      kind: 'rejected',
      status: 403,
      reason: 'GitHub delivery with a wrong or missing signature',
    });
  });

  it.each([
    ['Gitea', 'x-gitea-event', 'x-gitea-signature'],
    ['Forgejo', 'x-forgejo-event', 'x-forgejo-signature'],
  ])('%s: a ping is a ping and any other event is ignored, not read as a push', (_forge, event, signature) => {
    const b = gh('refs/heads/main');
    expect(read({ [event]: 'ping', [signature]: hmac(b) }, b)).toMatchObject({ kind: 'ping', forge: 'gitea' });
    expect(read({ [event]: 'issues', [signature]: hmac(b) }, b)).toMatchObject({ kind: 'ignored', forge: 'gitea', event: 'issues' });
    expect(read({ [event]: 'push', [signature]: hmac(b) }, b)).toMatchObject({ kind: 'push', forge: 'gitea' });
  });

  it('only GitLab reads "System Hook" from the body: on another forge it is just an event name, ignored', () => {
    const b = json({ event_name: 'push', ref: 'refs/heads/main', project: { path_with_namespace: 'acme/app', web_url: 'https://gitlab.com/acme/app' } });
    expect(read(ghHeaders(b, 'System Hook'), b)).toMatchObject({ kind: 'ignored', forge: 'github', event: 'System Hook' });
    const notJson = Buffer.from('{');
    expect(read(ghHeaders(notJson, 'System Hook'), notJson)).toMatchObject({ kind: 'ignored', event: 'System Hook' });
  });

  it.each([
    ['Bitbucket Cloud', { 'x-event-key': 'repo:push', 'x-request-uuid': 'r-1' }],
    ['Bitbucket Data Center', { 'x-event-key': 'repo:refs_changed', 'x-request-id': 'r-1' }],
  ])('a signed %s push whose body is not a push payload is a 400, not a crash', (forge, headers) => {
    for (const b of [json({}), json({ repository: { full_name: 'team/repo' } }), json(null)]) {
      expect(read({ ...headers, 'x-hub-signature': `sha256=${hmac(b)}` }, b)).toEqual({ kind: 'rejected', status: 400, reason: `${forge} push without a repository name and URL` });
    }
  });

  it('one unreadable ref among good ones refuses the whole push', () => {
    const h = { 'x-gitlab-event': 'System Hook', 'x-gitlab-token': SECRET };
    const b = json({ event_name: 'repository_update', refs: ['refs/heads/main', 'refs/heads/a b'], project: { path_with_namespace: 'a/b', web_url: 'https://gitlab.com/a/b' } });
    expect(read(h, b)).toEqual({ kind: 'rejected', status: 400, reason: 'GitLab push without a readable ref (refs/…)' });
  });

  it('an empty GitLab token is never a match, whatever the secret', () => {
    const b = json({ ref: 'refs/heads/main', project: { path_with_namespace: 'acme/app', web_url: 'https://gitlab.com/acme/app' } });
    expect(readDelivery({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': '' }, b, '')).toEqual({ kind: 'rejected', status: 403, reason: 'GitLab delivery with a wrong or missing token' });
  });

  it('repository names: a part may start or end with dots (org/.github) but not be only dots; GitLab groups nest; the whole name is checked', () => {
    for (const name of ['acme/.github', 'acme/app.', 'group/sub/app']) {
      const b = gh('refs/heads/main', name);
      expect(read(ghHeaders(b), b)).toMatchObject({ kind: 'push', repo: name });
    }
    // The URL is clean; only the name is not.
    const spaced = json({ ref: 'refs/heads/main', repository: { full_name: 'x acme/app', html_url: 'https://github.com/acme/app' } });
    expect(read(ghHeaders(spaced), spaced)).toEqual({ kind: 'rejected', status: 400, reason: 'GitHub push without a repository name and URL' });
  });

  it.each(['https://_evil.com/acme/app', 'https://evil.com_/acme/app'])('a host with a character URLs do not use at either end (%s) is no location: 400', (url) => {
    const b = json({ ref: 'refs/heads/main', repository: { full_name: 'acme/app', html_url: url } });
    expect(read(ghHeaders(b), b)).toEqual({ kind: 'rejected', status: 400, reason: 'GitHub push without a repository name and URL' });
  });

  it('formField: a field with an empty name is found by that name', () => {
    expect(formField(Buffer.from('=abc&payload=x'), '')).toEqual(Buffer.from('abc'));
  });
});
