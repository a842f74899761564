import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOrigin } from '../helpers/origin.js';
import { makeWorld } from '../helpers/pollpray-cli.js';

describe('log.format: json', () => {
  it('writes one JSON object per line with time, level, message, target, commit and step', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const deploy = world.script('deploy.sh', 'echo "migrating"');
    world.writeConfig({
      log: { dir: world.logDir, level: 'info', format: 'json' },
      targets: { app: { repo: origin.url, path: join(world.dir, 'www', 'app'), deploy } },
    });
    expect((await world.cli(['run'])).exitCode).toBe(0);
    const lines = world.logText().trimEnd().split('\n');
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.length).toBeGreaterThan(3);
    for (const e of entries) {
      expect(e).toMatchObject({ level: expect.stringMatching(/^(error|warn|info|debug)$/), message: expect.any(String), timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT.+Z$/) });
    }
    const head = await origin.head();
    expect(entries).toContainEqual(expect.objectContaining({ level: 'info', message: 'migrating', target: 'app', commit: head, step: 'script' }));
    expect(entries).toContainEqual(expect.objectContaining({ target: 'app', commit: head, step: 'done', durationMs: expect.any(Number), message: expect.stringMatching(/^deployed /) }));
  });
});
