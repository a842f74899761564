/**
 * Row 22's other side: a symlink committed to the repository must not lead pollpray out
 * of the release when it links the `shared` paths in (whoever can push must not be able
 * to make a deploy delete or redirect files elsewhere). The deploy fails with one line,
 * the live release stays, nothing outside is touched, and a fixed commit deploys.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLineError, expectState, faultWorld, short } from './fault-world.js';

describe('symlinks committed to the repository', { timeout: 60_000 }, () => {
  it('#22 a committed symlink cannot lead a shared path out of the release: the deploy fails, nothing outside touched, a fixed commit deploys', async () => {
    const f = await faultWorld({ strategy: 'releases', target: { shared: ['public/uploads', 'data'] } });
    const victim = join(f.world.dir, 'victim');
    mkdirSync(join(victim, 'uploads'), { recursive: true });
    writeFileSync(join(victim, 'uploads', 'keep.txt'), 'precious\n');
    const good = await f.origin.head();
    mkdirSync(join(f.path, 'shared', 'data'), { recursive: true });
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    const live = readlinkSync(join(f.path, 'current'));
    rmSync(join(f.path, 'shared', 'data'), { recursive: true });

    const cases: Array<[string, () => void, RegExp]> = [
      // public -> victim: linking public/uploads in would rm -rf victim/uploads and put a link there.
      ['an intermediate directory', () => symlinkSync(victim, join(f.origin.work, 'public')), /app: shared path public\/uploads leads out of the release through a symlink in the commit \(to .*victim\/uploads\)/],
      // data -> victim: seeding shared/data from it would make every release's data the victim.
      ['the seed of a new shared path', () => symlinkSync(victim, join(f.origin.work, 'data')), /app: shared path data is a symlink in the commit: pollpray does not seed .*shared\/data from a link/],
    ];
    for (const [name, commitLink, message] of cases) {
      commitLink();
      const bad = await f.origin.commit({}, `a symlink at ${name}`);
      const r = await f.world.cli(['run']);
      expect(r.exitCode, `${name}\n${r.stderr}`).toBe(1);
      expectOneLineError(r.stderr, 'app', message);
      expect(readFileSync(join(victim, 'uploads', 'keep.txt'), 'utf8')).toBe('precious\n');
      expect(lstatSync(join(victim, 'uploads')).isDirectory()).toBe(true);
      expect(existsSync(join(f.path, 'shared', 'data'))).toBe(false);
      expect(readlinkSync(join(f.path, 'current'))).toBe(live);
      expectState(f.world, 'app', { deployedSha: good, lastResult: 'failed' });
      expect(f.world.state('app')?.failures).toHaveProperty(bad);
      await f.origin.git(['rm', '-q', name === 'an intermediate directory' ? 'public' : 'data']);
    }

    await f.origin.commit({ 'public/index.html': 'ok\n' }, 'real directories again');
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(await f.origin.head()));
    expect(readlinkSync(join(f.path, 'current', 'public', 'uploads'))).toBe(join(f.path, 'shared', 'public', 'uploads'));
  });
});
