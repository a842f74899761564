import { describe, expect, it } from 'vitest';
import { normalise } from '../../src/config/normalise.js';
import { diskVerdict } from '../../src/doctor/checks.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const config = normalise(
  {
    targets: {
      small: { repo: 'git@h:a.git', path: '/srv/a', strategy: 'releases', min_free_space: '200MB' },
      big: { repo: 'git@h:b.git', path: '/srv/b', strategy: 'releases', min_free_space: '3GB' },
      plain: { repo: 'git@h:c.git', path: '/srv/c' },
    },
  },
  '/etc/pollpray/pollpray.yaml',
);
const target = (name: string) => config.targets.find((t) => t.name === name)!;

describe('doctor disk verdict', () => {
  it.each([
    // No releases target: 100 MiB fails, under 1 GiB warns.
    ['plain, 50 MiB', 50 * MiB, [], 'fail'],
    ['plain, 500 MiB', 500 * MiB, [], 'warn'],
    ['plain, 2 GiB', 2 * GiB, [], 'ok'],
    // The largest min_free_space on the filesystem is what the next deploy needs.
    ['small+big, 2 GiB', 2 * GiB, ['small', 'big'], 'fail'],
    ['small+big, 4 GiB', 4 * GiB, ['small', 'big'], 'warn'],
    ['small+big, 7 GiB', 7 * GiB, ['small', 'big'], 'ok'],
    ['small, 150 MiB', 150 * MiB, ['small'], 'fail'],
  ] as const)('%s: %s', (_, free, releases, status) => {
    expect(diskVerdict(free, { paths: ['/srv'], releases: releases.map(target) }).status).toBe(status);
  });

  it('names the target whose min_free_space is not met, and the key to lower', () => {
    const r = diskVerdict(2 * GiB, { paths: ['/srv/a', '/srv/b'], releases: [target('small'), target('big')] });
    expect(r.detail).toBe('2.0GB free for /srv/a, /srv/b: below targets.big.min_free_space (3.0GB), so its next deploy is refused');
    expect(r.fix).toMatch(/lower targets\.big\.min_free_space$/);
  });
});
