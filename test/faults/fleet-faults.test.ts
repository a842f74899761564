/**
 * Row 56: what a fleet's Redis holds is data from other hosts (or from anyone who can
 * write to that Redis), read back like a state file: checked against a schema, an
 * invalid value is absent with one warning, and never decides a deploy or crashes a
 * command.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeOrigin } from '../helpers/origin.js';
import { makeWorld } from '../helpers/pollpray-cli.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { requireBinary } from '../helpers/require-env.js';

let redis: RedisServer;
let groupSeq = 0;

/** A redis inline command argument: single-quoted (the JSON here holds no single quote). */
const arg = (text: string) => `'${text}'`;

async function follower() {
  const origin = await makeOrigin();
  const world = makeWorld();
  const group = `faults-${process.pid}-${++groupSeq}`;
  const path = join(world.dir, 'www', 'app');
  const deploy = world.script('deploy.sh', `echo "$POLLPRAY_NEW_SHA" >> "${world.dir}/calls.log"`);
  world.writeConfig({
    coordination: { redis: redis.url, group, canary: false, require_canary: true, wait: '1s' },
    targets: { app: { repo: origin.url, path, deploy, deploy_timeout: '10s' } },
  });
  const env = { POLLPRAY_HOST_ID: 'f1' };
  return { origin, world, group, path, env, key: (...parts: string[]) => [`pollpray:${group}:app`, ...parts].join(':') };
}

describe.skipIf(requireBinary('redis-server', 'redis-server'))('a fleet whose Redis holds invalid data', { timeout: 60_000 }, () => {
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('#56 a verdict with the wrong shape (healthy without its host, bad with an object for a host) is no verdict: the follower keeps waiting for the canary, with one warning', async () => {
    const f = await follower();
    const sha = await f.origin.head();
    for (const junk of ['{"verdict":"healthy"}', '{"verdict":"bad","host":{"x":1},"time":"t","reason":7}', 'not json']) {
      expect(await redis.command(`SET ${f.key('verdict', sha)} ${arg(junk)}`)).toMatch(/^\+OK/);
      const r = await f.world.cli(['run'], { env: f.env });
      expect(r.stderr, junk).not.toMatch(/object Object|failed on canary/);
      expect(f.world.state('app')?.deployedSha ?? null, junk).toBeNull();
      expect(f.world.logText(), junk).toMatch(new RegExp(`ignored an invalid canary verdict in Redis \\(${f.key('verdict', sha)}\\)`));
      expect(f.world.logText(), junk).toMatch(/waiting for a canary to report [0-9a-f]{12} healthy/);
    }
    // A valid healthy verdict still lets it deploy.
    expect(await redis.command(`SET ${f.key('verdict', sha)} ${arg(JSON.stringify({ verdict: 'healthy', host: 'c1', time: new Date().toISOString() }))}`)).toMatch(/^\+OK/);
    const ok = await f.world.cli(['run'], { env: f.env });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(f.world.state('app')).toMatchObject({ deployedSha: sha, lastResult: 'deployed' });
  });

  it('#56 fleet status skips a host record with the wrong shape (one warning naming it) and shows the others', async () => {
    const f = await follower();
    const good = { host: 'c1', target: 'app', canary: true, commit: 'a'.repeat(40), result: 'deployed', time: new Date().toISOString(), error: null, pending: null };
    expect(await redis.command(`HSET ${f.key('hosts')} c1 ${arg(JSON.stringify(good))} evil ${arg('{"host":5,"time":{},"commit":"../../etc"}')} junk ${arg('not json')}`)).toMatch(/^:3/);
    const r = await f.world.cli(['fleet', 'status', '--json'], { env: f.env });
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { targets: Array<{ hosts: Array<{ host: string }> }> };
    expect(report.targets[0]?.hosts.map((h) => h.host)).toEqual(['c1']);
    expect(r.stderr).toMatch(new RegExp(`ignored an invalid fleet record in Redis \\(${f.key('hosts')} evil\\)`));
    expect(r.stderr).toMatch(new RegExp(`ignored an invalid fleet record in Redis \\(${f.key('hosts')} junk\\)`));
  });
});
