import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Target } from '../../src/config/normalise.js';
import { readDelivery } from '../../src/serve/forge.js';
import { repoAllowed, repoUrlNames, targetsForPush } from '../../src/serve/match.js';
import { CycleQueue } from '../../src/serve/queue.js';

const SECRET = 's3cret-s3cret-s3cret';
const body = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: 'acme/todo' } }));
const hmac = (b: Buffer, secret = SECRET) => createHmac('sha256', secret).update(b).digest('hex');

describe('reading a webhook delivery', () => {
  it('Gitea/Forgejo: X-Gitea-Signature is a bare hex HMAC, checked before the GitHub-compatible headers', () => {
    const headers = { 'x-gitea-event': 'push', 'x-gitea-delivery': 'd1', 'x-gitea-signature': hmac(body), 'x-github-event': 'push' };
    expect(readDelivery(headers, body, SECRET)).toEqual({ kind: 'push', forge: 'gitea', deliveryId: 'd1', repo: 'acme/todo', ref: 'refs/heads/main' });
    expect(readDelivery({ ...headers, 'x-gitea-signature': hmac(body, 'other') }, body, SECRET)).toMatchObject({ kind: 'rejected', status: 403 });
  });

  it('Forgejo headers are read too', () => {
    const headers = { 'x-forgejo-event': 'push', 'x-forgejo-delivery': 'f1', 'x-forgejo-signature': hmac(body) };
    expect(readDelivery(headers, body, SECRET)).toMatchObject({ kind: 'push', forge: 'gitea', deliveryId: 'f1' });
  });

  it.each([
    ['a GitHub signature for another body', { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac(Buffer.from('{}'))}` }, 403],
    ['a GitHub delivery without signature', { 'x-github-event': 'push' }, 403],
    ['a GitLab token that is a prefix of the secret', { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET.slice(0, 5) }, 403],
    ['no event header at all', {}, 400],
  ])('%s → %i', (_name, headers, status) => {
    expect(readDelivery(headers, body, SECRET)).toMatchObject({ kind: 'rejected', status });
  });

  it('a signed non-push event is ignored, and a GitLab delivery without an id is identified by its body', () => {
    const sig = `sha256=${hmac(body)}`;
    expect(readDelivery({ 'x-github-event': 'issues', 'x-hub-signature-256': sig }, body, SECRET)).toMatchObject({ kind: 'ignored', event: 'issues' });
    const gl = Buffer.from(JSON.stringify({ ref: 'refs/tags/v1', project: { path_with_namespace: 'acme/sub/todo' } }));
    const a = readDelivery({ 'x-gitlab-event': 'Tag Push Hook', 'x-gitlab-token': SECRET }, gl, SECRET);
    expect(a).toMatchObject({ kind: 'push', repo: 'acme/sub/todo', ref: 'refs/tags/v1' });
    expect(readDelivery({ 'x-gitlab-event': 'Tag Push Hook', 'x-gitlab-token': SECRET }, gl, SECRET)).toEqual(a);
  });

  it('a signed push without repository or ref is a 400', () => {
    const bad = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: '../../etc' } }));
    expect(readDelivery({ 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac(bad)}` }, bad, SECRET)).toMatchObject({ kind: 'rejected', status: 400 });
  });
});

const target = (name: string, repo: string, extra: Partial<Target> = {}) => ({ name, repo, branch: 'main', ...extra }) as Target;

describe('mapping a push to targets', () => {
  it.each([
    ['git@github.com:acme/todo.git', true],
    ['git@github.com-repo-todo:acme/todo.git', true],
    ['https://github.com/acme/todo', true],
    ['ssh://git@gitlab.example.com:2222/acme/todo.git/', true],
    ['git@github.com:acme/todo-old.git', false],
    ['git@github.com:notacme/todo.git', false],
  ])('%s names acme/todo: %s', (url, ok) => {
    expect(repoUrlNames(url, 'acme/todo')).toBe(ok);
  });

  it('allow lists owner/name or owner/*, case-insensitively', () => {
    expect(repoAllowed(['Acme/Todo'], 'acme/todo')).toBe(true);
    expect(repoAllowed(['acme/*'], 'acme/blog')).toBe(true);
    expect(repoAllowed(['acme/*'], 'acme/sub/blog')).toBe(false);
    expect(repoAllowed(['acme/todo'], 'evil/todo')).toBe(false);
  });

  it('branch targets match their branch; tag targets match any tag push', () => {
    const targets = [
      target('staging', 'git@github.com:acme/todo.git'),
      target('production', 'git@github.com:acme/todo.git', { tags: 'v*' }),
      target('blog', 'git@github.com:acme/blog.git'),
    ];
    expect(targetsForPush(targets, 'acme/todo', 'refs/heads/main').map((t) => t.name)).toEqual(['staging']);
    expect(targetsForPush(targets, 'acme/todo', 'refs/tags/v1.2.0').map((t) => t.name)).toEqual(['production']);
    expect(targetsForPush(targets, 'acme/todo', 'refs/heads/feature')).toEqual([]);
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
