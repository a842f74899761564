/** Faults in the configuration (rows 21, 22, 23's config side and 26 of the failure-modes table): exit 2, nothing touched. */
import { chmodSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { faultWorld, short } from './fault-world.js';

/** Everything a run could touch: the state dir's files and the checkout's HEAD. */
function snapshot(stateDir: string): string {
  const dir = join(stateDir, 'targets', 'app');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') || f.endsWith('.jsonl'))
    .sort()
    .map((f) => `${f}:${readFileSync(join(dir, f), 'utf8')}`)
    .join('\n');
}

describe('config faults', { timeout: 30_000 }, () => {
  it('#21 bad config: a YAML error, an unknown key and timeout: five each exit 2 with file:line key, nothing touched', async () => {
    const f = await faultWorld();
    const head = await f.origin.head();
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    await f.origin.commit({ 'v.txt': '2\n' }, 'v2');
    const good = readFileSync(f.world.configFile, 'utf8');
    const before = snapshot(f.world.stateDir);
    const broken: Array<[string, RegExp]> = [
      [good.replace('targets:', 'targets: [oops'), /pollpray\.yaml:\d+/],
      [good.replace(/^(\s+)path: /m, '$1pathh: /tmp/x\n$1path: '), /pollpray\.yaml:\d+ targets\.app\.pathh: /],
      [good.replace(/deploy_timeout: \S+/, 'deploy_timeout: five'), /pollpray\.yaml:\d+ targets\.app\.deploy_timeout: must be a duration/],
    ];
    for (const [text, line] of broken) {
      writeFileSync(f.world.configFile, text);
      const r = await f.world.cli(['run']);
      expect(r.exitCode, text).toBe(2);
      expect(r.stderr).toMatch(line);
      expect(r.stderr).toMatch(/fix: /);
    }
    expect(snapshot(f.world.stateDir)).toBe(before);
    expect(f.live()).toBe(short(head));
    expect(f.calls()).toHaveLength(1);

    writeFileSync(f.world.configFile, good);
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    expect(f.live()).toBe(short(await f.origin.head()));
  });

  it('#22 path traversal: a target named ../../etc, a path through .. and a shared path out of the release are rejected at validation', async () => {
    const f = await faultWorld({ strategy: 'releases' });
    const good = readFileSync(f.world.configFile, 'utf8');
    const cases: Array<[string, RegExp]> = [
      [good.replace(/^(\s+)app:/m, "$1'../../etc':"), /targets\.\.\.\/\.\.\/etc: target names must match/],
      [good.replace(/^(\s+)path: (\S+)/m, '$1path: $2/../../../../etc'), /targets\.app\.path: must not contain "\.\."/],
      [good.replace(/^(\s+)strategy: releases/m, "$1strategy: releases\n$1shared: ['../../etc']"), /targets\.app\.shared\[0\]: must be a relative path inside the release/],
    ];
    for (const [text, line] of cases) {
      writeFileSync(f.world.configFile, text);
      const r = await f.world.cli(['run']);
      expect(r.exitCode, text).toBe(2);
      expect(r.stderr).toMatch(line);
    }
    expect(f.world.state('app')).toBeUndefined();
    writeFileSync(f.world.configFile, good);
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
  });

  it('#26 world-writable config or key: refused with the fix', async () => {
    const f = await faultWorld();
    chmodSync(f.world.configFile, 0o666);
    const r = await f.world.cli(['run']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/world-writable/);
    expect(r.stderr).toMatch(/chmod/);
    expect(f.world.state('app')).toBeUndefined();
    chmodSync(f.world.configFile, 0o640);
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
  });
});
