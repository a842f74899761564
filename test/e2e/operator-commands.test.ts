import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOrigin } from '../helpers/origin.js';
import { linesOf, makeWorld, until, type World } from '../helpers/pollpray-cli.js';

async function setup(target: Record<string, unknown> = {}) {
  const origin = await makeOrigin();
  const world = makeWorld();
  const path = join(world.dir, 'www', 'app');
  const deploy = world.script(
    'deploy.sh',
    [`echo "$POLLPRAY_NEW_SHA" >> "${world.dir}/calls.log"`, '[ -f slow ] && sleep "$(cat slow)"', '[ -f fail ] && { echo "tests failed" >&2; exit 1; }', 'exit 0'].join('\n'),
  );
  world.writeConfig({ targets: { app: { repo: origin.url, path, strategy: 'releases', deploy, ...target } } });
  const calls = () => linesOf(join(world.dir, 'calls.log'));
  const current = () => readlinkSync(join(path, 'current'));
  return { origin, world, path, calls, current };
}

/** Moves every recorded failed attempt `minutes` into the past, as if that much time went by. */
function age(world: World, minutes: number): void {
  const file = join(world.stateDir, 'targets', 'app', 'state.json');
  const state = JSON.parse(readFileSync(file, 'utf8')) as { failures: Record<string, { lastAttempt: string }> };
  for (const f of Object.values(state.failures)) f.lastAttempt = new Date(Date.parse(f.lastAttempt) - minutes * 60_000).toISOString();
  writeFileSync(file, JSON.stringify(state));
}

interface StatusJson {
  targets: Array<{ paused: boolean; paused_reason: string | null; quarantined: boolean; failed_attempts: number; next_retry: string | null; deployed_commit: string }>;
}
const statusJson = async (world: World) => JSON.parse((await world.cli(['status', '--json'])).stdout) as StatusJson;

describe('operator commands', { timeout: 60_000 }, () => {
  it('rollback switches to the previous release and pauses: runs do nothing until resume', async () => {
    const { origin, world, calls, current } = await setup();
    await world.cli(['run']);
    const first = await origin.head();
    const firstRelease = current();
    const second = await origin.commit({ 'app.txt': 'v2\n' }, 'Second');
    await world.cli(['run']);

    const r = await world.cli(['rollback', 'app']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^app: rolled back to ${first.slice(0, 12)} \\(release .+\\) from ${second.slice(0, 12)}; paused until pollpray resume app$`));
    expect(current()).toBe(firstRelease);
    expect((await statusJson(world)).targets[0]).toMatchObject({ paused: true, deployed_commit: first, paused_reason: expect.stringMatching(/rolled back by hand/) });
    // pause on the rolled-back (already paused) target keeps the rollback's reason.
    const reason = (await statusJson(world)).targets[0]?.paused_reason;
    expect((await world.cli(['pause', 'app'])).stdout).toBe(`app: was already paused (${reason})`);
    expect((await statusJson(world)).targets[0]?.paused_reason).toBe(reason);

    const skipped = await world.cli(['run']);
    expect(skipped.exitCode).toBe(0);
    expect(current()).toBe(firstRelease);
    expect(calls()).toHaveLength(2);

    expect((await world.cli(['resume', 'app'])).stdout).toBe('app: resumed: the next run deploys the branch head');
    expect((await world.cli(['run'])).exitCode).toBe(0);
    expect(calls()).toEqual([first, second, second]);

    const h = JSON.parse((await world.cli(['history', 'app', '--json'])).stdout) as { entries: Array<Record<string, unknown>> };
    expect(h.entries.map((e) => [e.result, e.commit, e.previous_commit])).toEqual([
      ['deployed', first, null],
      ['deployed', second, first],
      ['rolled-back', first, second],
      ['deployed', second, first],
    ]);
    expect(h.entries[1]).toMatchObject({ subject: 'Second', duration_ms: expect.any(Number), time: expect.stringMatching(/Z$/) });
  });

  it('rollback to a named commit, and to one that was never deployed', async () => {
    const { origin, world, current } = await setup();
    await world.cli(['run']);
    const first = await origin.head();
    await origin.commit({ 'app.txt': 'v2\n' }, 'Second');
    await world.cli(['run']);
    await origin.commit({ 'app.txt': 'v3\n' }, 'Third');
    await world.cli(['run']);
    const unknown = await world.cli(['rollback', 'app', 'deadbeef']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/app: no complete release named or with commit deadbeef/);
    const r = await world.cli(['rollback', 'app', first.slice(0, 8)]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(current()).toMatch(new RegExp(`-${first.slice(0, 12)}$`));
  });

  it('pause and resume say so and exit 1 while a run holds the lock', async () => {
    const { origin, world, calls } = await setup();
    await origin.commit({ slow: '3\n' }, 'Slow');
    const run = world.spawn(['run']);
    await until(() => calls().length === 1, 15_000, 'the run to start its script');
    const busy = await world.cli(['pause', 'app']);
    expect(busy.exitCode).toBe(1);
    expect(busy.stderr).toMatch(/^pollpray: app: busy: a run holds this target's lock \(fix: wait for it to finish/m);
    expect((await run).exitCode).toBe(0);
    expect((await world.cli(['pause', 'app'])).stdout).toBe('app: paused');
    expect((await world.cli(['pause', 'app'])).stdout).toMatch(/^app: was already paused \(paused by hand at \S+Z\)$/);
    expect((await statusJson(world)).targets[0]?.paused).toBe(true);
    expect((await world.cli(['resume', 'app'])).exitCode).toBe(0);
    expect((await statusJson(world)).targets[0]?.paused).toBe(false);
  });
});

describe('failure policy', { timeout: 90_000 }, () => {
  it('retries a failing commit after its backoff, quarantines it after max_attempts, and deploys the next commit at once', async () => {
    const { origin, world, calls } = await setup({ max_attempts: 2 });
    await world.cli(['run']);
    const good = await origin.head();
    const bad = await origin.commit({ fail: '' }, 'Failing tests');

    expect((await world.cli(['run'])).exitCode).toBe(1);
    expect(calls()).toEqual([good, bad]);
    // Within the 5 minute backoff: not tried again.
    const waiting = await world.cli(['run']);
    expect(waiting.exitCode).toBe(0);
    expect(calls()).toHaveLength(2);
    let s = (await statusJson(world)).targets[0];
    expect(s).toMatchObject({ failed_attempts: 1, quarantined: false, next_retry: expect.stringMatching(/Z$/) });
    expect(Date.parse(s?.next_retry ?? '') - Date.now()).toBeGreaterThan(4 * 60_000);

    age(world, 5);
    expect((await world.cli(['run'])).exitCode).toBe(1);
    expect(calls()).toEqual([good, bad, bad]);
    age(world, 24 * 60);
    expect((await world.cli(['run'])).exitCode).toBe(0);
    expect(calls()).toHaveLength(3);
    s = (await statusJson(world)).targets[0];
    expect(s).toMatchObject({ failed_attempts: 2, quarantined: true, next_retry: null, deployed_commit: good });
    expect((await world.cli(['status'])).stdout).toMatch(/app: commit [0-9a-f]{12} quarantined after 2 failed attempts; waiting for a new commit \(or pollpray run --force app\)/);
    expect(world.logText()).toMatch(/WARN +\[app\] @[0-9a-f]{12} decide: skipped: commit [0-9a-f]{12} is quarantined after 2 failed attempts/);

    // --force overrides the quarantine (and fails again here).
    expect((await world.cli(['run', '--force'])).exitCode).toBe(1);
    expect(calls()).toHaveLength(4);

    // A new commit is tried at once, quarantine or not.
    await origin.git(['rm', '-q', 'fail']);
    const fix = await origin.commit({ 'fixed.txt': 'yes\n' }, 'Fix tests');
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(calls().at(-1)).toBe(fix);
    expect((await statusJson(world)).targets[0]).toMatchObject({ deployed_commit: fix, quarantined: false, failed_attempts: 0 });
  });
});
