import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOrigin } from '../helpers/origin.js';
import { freePort } from '../helpers/sshd.js';
import { startReceiver, type Received } from '../helpers/http-receiver.js';
import { makeWorld } from '../helpers/pollpray-cli.js';

/** A target whose deploy script fails while the commit contains a file named `fail`. */
async function setup(extra: Record<string, unknown>) {
  const origin = await makeOrigin();
  const world = makeWorld();
  const deploy = world.script('deploy.sh', '[ -f fail ] && { echo "migration broke: $(cat fail)" >&2; exit 3; }; exit 0');
  world.writeConfig({ targets: { app: { repo: origin.url, path: join(world.dir, 'www', 'app'), deploy } }, ...extra });
  return { origin, world };
}

const webhooks = (requests: Received[]) => requests.filter((r) => r.path === '/hook').map((r) => JSON.parse(r.body) as Record<string, unknown>);

describe('notifications and heartbeat', () => {
  it('a target failing every cycle notifies once, then recovered once; the heartbeat says /fail while it fails', async () => {
    const hc = await startReceiver();
    const { origin, world } = await setup({
      notify: [{ webhook: `${hc.url}/hook`, on: ['deployed', 'failed', 'recovered'], timeout: '2s' }],
      heartbeat_url: `${hc.url}/ping/5f1c`,
      heartbeat_timeout: '2s',
    });
    expect((await world.cli(['run'])).exitCode).toBe(0); // deployed: webhook + ping
    const first = await origin.head();
    const bad = await origin.commit({ fail: 'column exists' }, 'break it');
    expect((await world.cli(['run'])).exitCode).toBe(1); // failed: webhook + fail ping
    // The retry policy holds a failed commit back (backoff); --force retries it at once.
    expect((await world.cli(['run', '--force'])).exitCode).toBe(1); // failed again: fail ping only
    await origin.git(['rm', '-q', 'fail']);
    const fixed = await origin.commit({ 'fixed.txt': 'yes\n' }, 'fix it');
    expect((await world.cli(['run'])).exitCode).toBe(0); // deployed + recovered + ping
    expect((await world.cli(['run'])).exitCode).toBe(0); // unchanged: ping only

    const events = webhooks(hc.requests);
    expect(events.map((e) => [e.event, e.commit])).toEqual([
      ['deployed', first],
      ['failed', bad],
      ['deployed', fixed],
      ['recovered', fixed],
    ]);
    const failed = events[1]!;
    expect(failed).toEqual({
      text: expect.stringMatching(/^\[pollpray\] app on \S+: FAILED at [0-9a-f]{12}: app: deploy script exited with 3: migration broke: column exists; rolled back to [0-9a-f]{12} \(fix: .+\)$/),
      event: 'failed',
      target: 'app',
      host: expect.any(String),
      repo: origin.url,
      branch: 'main',
      commit: bad,
      previous_commit: first,
      message: expect.stringContaining('deploy script exited with 3: migration broke: column exists'),
      duration_ms: expect.any(Number),
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const hook = hc.requests.find((r) => r.path === '/hook')!;
    expect(hook.method).toBe('POST');
    expect(hook.headers['content-type']).toBe('application/json');

    const pings = hc.requests.filter((r) => r.path.startsWith('/ping/'));
    expect(pings.map((p) => p.path)).toEqual(['/ping/5f1c', '/ping/5f1c/fail', '/ping/5f1c/fail', '/ping/5f1c', '/ping/5f1c']);
    expect(pings[1]?.body).toMatch(/^app: failed: app: deploy script exited with 3/);
  }, 90_000);

  it('a slow webhook and heartbeat do not hold the run past their timeout, and a dead one does not fail it', async () => {
    const slow = await startReceiver();
    slow.behave('/', { delayMs: 30_000 });
    const dead = await freePort();
    const { world } = await setup({
      notify: [
        { webhook: `${slow.url}/hook`, on: ['deployed'], timeout: '1s' },
        // nothing listens there: connection refused at once
        { webhook: `http://127.0.0.1:${dead}/hook`, on: ['deployed'], timeout: '1s' },
      ],
      heartbeat_url: `${slow.url}/ping/abc`,
      heartbeat_timeout: '1s',
    });
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(world.state('app')).toMatchObject({ lastResult: 'deployed' });
    await slow.waitFor(2); // both reached the receiver...
    expect(r.durationMs).toBeLessThan(8_000); // ...and the run did not wait 30s for either
    const log = world.logText();
    expect(log).toMatch(/notify: notify deployed via webhook 127\.0\.0\.1:\d+ failed: timed out after 1000ms \(the run goes on\)/);
    expect(log).toMatch(new RegExp(`notify deployed via webhook 127\\.0\\.0\\.1:${dead} failed: ECONNREFUSED`));
    expect(log).toMatch(/heartbeat ping to 127\.0\.0\.1:\d+ failed: timed out/);
  });

  it('a command hook gets the event in POLLPRAY_* variables and JSON on stdin, never through a shell', async () => {
    const { origin, world } = await setup({});
    const out = join(world.dir, 'hook.out');
    const hook = world.script('hook.sh', `{ env | grep '^POLLPRAY_' | sort; echo "argv: $*"; echo "stdin: $(cat)"; } > "${out}"`);
    world.writeConfig({
      targets: { app: { repo: origin.url, path: join(world.dir, 'www', 'app'), deploy: join(world.dir, 'deploy.sh') } },
      notify: [{ command: [hook, '--channel', 'ops'], on: ['failed'], timeout: '5s' }],
    });
    await world.cli(['run']);
    // The failure message carries shell syntax: it must arrive as data, not run.
    await origin.commit({ fail: `"; touch ${world.dir}/pwned; $(touch ${world.dir}/pwned2)` }, 'hostile message');
    expect((await world.cli(['run'])).exitCode).toBe(1);
    const text = readFileSync(out, 'utf8');
    expect(text).toMatch(/^POLLPRAY_EVENT=failed$/m);
    expect(text).toMatch(/^POLLPRAY_TARGET=app$/m);
    expect(text).toMatch(/^POLLPRAY_COMMIT=[0-9a-f]{40}$/m);
    expect(text).toMatch(/^POLLPRAY_MESSAGE=app: deploy script exited with 3: migration broke: "; touch .*\$\(touch .*pwned2\)/m);
    expect(text).toMatch(/^argv: --channel ops$/m);
    expect(JSON.parse(text.split('stdin: ')[1]!)).toMatchObject({ event: 'failed', target: 'app' });
    expect(existsSync(join(world.dir, 'pwned'))).toBe(false);
    expect(existsSync(join(world.dir, 'pwned2'))).toBe(false);
    expect(world.logText()).toMatch(/notified failed via command \S+hook\.sh/);
  });
});
