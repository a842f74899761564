/** The symlink rules decide on looked-up facts alone: each case as a table row, no filesystem. */
import { describe, expect, it } from 'vitest';
import type { CurrentLink, TargetPaths } from '../../src/config/path-facts.js';
import { keyPathText } from '../../src/config/report.js';
import { symlinkFindings } from '../../src/config/symlink-rules.js';

const plain = (name: string, path: string, real = path): TargetPaths => ({ name, path, real });

function releases(name: string, path: string, opts: { real?: string; current?: CurrentLink; shared?: Record<string, string> } = {}): TargetPaths {
  const real = opts.real ?? path;
  return {
    name,
    path,
    real,
    releases: {
      releasesDir: `${real}/releases`,
      current: opts.current ?? { kind: 'absent' },
      shared: Object.entries(opts.shared ?? {}).map(([entry, to], index) => ({ index, entry, written: `${real}/shared/${entry}`, real: to })),
    },
  };
}

const lines = (targets: TargetPaths[]) => symlinkFindings(targets).map((f) => `${keyPathText(f.path)}: ${f.message}`);

describe('symlink rules', () => {
  it.each<[string, TargetPaths[]]>([
    ['no symlinks at all', [plain('a', '/srv/a'), plain('b', '/srv/b')]],
    ['a path under a symlinked directory (/srv -> /data/srv)', [plain('a', '/srv/a', '/data/srv/a'), plain('b', '/srv/b', '/data/srv/b')]],
    ['overlap visible in the text (the distinctPaths rule reports it)', [plain('a', '/srv/a'), plain('b', '/srv/a/b')]],
    ['current: pollpray\'s own relative link', [releases('a', '/srv/a', { current: { kind: 'symlink', to: 'releases/r1', dir: '/srv/a/releases' } })]],
    ['current: an absolute link into releases/ (Capistrano style)', [releases('a', '/srv/a', { current: { kind: 'symlink', to: '/srv/a/releases/2020', dir: '/srv/a/releases' } })]],
    ['shared: not redirected', [releases('a', '/srv/a', { shared: { media: '/srv/a/shared/media' } })]],
    ['shared: a link to a data volume', [releases('a', '/srv/a', { shared: { media: '/mnt/nfs/media' } })]],
    ['shared: a link to a config dir inside /etc', [releases('a', '/srv/a', { shared: { 'config/app.yml': '/etc/app/app.yml' } })]],
    ['shared: a link to a data volume, next to an unrelated target', [releases('a', '/srv/a', { shared: { media: '/mnt/nfs/media' } }), plain('b', '/srv/b')]],
    ['shared: a link to another directory of the same target', [releases('a', '/srv/a', { shared: { media: '/srv/a/data/media' } })]],
    // No link: the nesting is the distinctPaths rule's to report, not a symlink problem.
    ['shared: not redirected, with a target nested in it', [releases('a', '/srv/a', { shared: { media: '/srv/a/shared/media' } }), plain('b', '/srv/a/shared/media/b')]],
  ])('allow %s', (_name, targets) => {
    expect(lines(targets)).toEqual([]);
  });

  it.each<[string, TargetPaths[], RegExp]>([
    ['two targets in one real directory', [plain('a', '/srv/a', '/data/a'), plain('b', '/var/www/b', '/data/a')], /^targets\.b\.path: is the same directory as target "a"'s path \/srv\/a once symlinks are resolved \(both are \/data\/a\): give each target/],
    ['a target inside another through a link', [plain('a', '/srv/a'), plain('b', '/var/www/b', '/srv/a/current')], /^targets\.b\.path: is inside target "a"'s path \/srv\/a once symlinks are resolved .*must not nest/],
    ['a target around another through a link', [plain('a', '/srv/a', '/data/x/a'), plain('b', '/var/www/b', '/data/x')], /^targets\.b\.path: contains target "a"'s path/],
    ['a path that leads to /etc', [plain('a', '/srv/a', '/etc')], /^targets\.a\.path: leads through a symlink to the system directory \/etc: give the target a directory of its own \(e\.g\. \/srv\/a\)$/],
    ['a path that is /usr', [plain('a', '/usr')], /^targets\.a\.path: is the system directory \/usr:/],
    ['current is a directory', [releases('a', '/srv/a', { current: { kind: 'not-a-symlink', what: 'directory' } })], /^targets\.a\.path: \/srv\/a\/current is a directory, not pollpray's symlink .*mv \/srv\/a\/current \/srv\/a\/current\.old\)$/],
    ['current points elsewhere', [releases('a', '/srv/a', { current: { kind: 'symlink', to: '/opt/builds/7', dir: '/opt/builds' } })], /^targets\.a\.path: \/srv\/a\/current points at \/opt\/builds\/7, outside \/srv\/a\/releases\/: another tool manages/],
    ['shared -> /etc', [releases('a', '/srv/a', { shared: { uploads: '/etc' } })], /^targets\.a\.shared\[0\]: \/srv\/a\/shared\/uploads leads through a symlink to the system directory \/etc: every release would write there; point the link/],
    ['shared -> into a release', [releases('a', '/srv/a', { shared: { media: '/srv/a/releases/r1/media' } })], /^targets\.a\.shared\[0\]: .* into \/srv\/a\/releases\/ .*outlive the releases/],
    ['shared -> above the target', [releases('a', '/srv/a', { shared: { all: '/srv' } })], /^targets\.a\.shared\[0\]: .* to \/srv, which holds this target's own directory/],
    ['shared -> another target', [releases('a', '/srv/a', { shared: { media: '/srv/b/media' } }), plain('b', '/srv/b')], /^targets\.a\.shared\[0\]: .* into target "b"'s path \/srv\/b/],
    ['shared -> a directory holding another target', [releases('a', '/srv/a', { shared: { www: '/var/www' } }), plain('b', '/var/www/b')], /^targets\.a\.shared\[0\]: .* to \/var\/www, which holds target "b"'s path/],
  ])('reject %s', (_name, targets, line) => {
    const found = lines(targets);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(line);
  });

  // Written out here, not imported: a test that iterated SYSTEM_DIRS would agree with any change to it.
  it.each(['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/proc', '/root', '/run', '/sbin', '/sys', '/usr', '/var', '/usr/bin', '/usr/lib', '/usr/lib32', '/usr/lib64', '/usr/sbin'])(
    'the system directory %s is refused as a target and as shared data',
    (dir) => {
      expect(lines([plain('a', '/srv/a', dir)])).toEqual([`targets.a.path: leads through a symlink to the system directory ${dir}: give the target a directory of its own (e.g. /srv/a)`]);
      expect(lines([releases('b', '/srv/b', { shared: { data: dir } })])[0]).toMatch(new RegExp(`^targets\\.b\\.shared\\[0\\]: /srv/b/shared/data leads through a symlink to the system directory ${dir}: every release`));
    },
  );

  it('the directories under them are not system directories', () => {
    expect(lines([plain('a', '/srv/a', '/var/www/a'), plain('b', '/srv/b', '/usr/local/b'), plain('c', '/srv/c', '/home/deploy/c')])).toEqual([]);
  });

  it('each finding names its own target and shared entry', () => {
    expect(lines([releases('a', '/srv/a', { current: { kind: 'not-a-symlink', what: 'file' }, shared: { logs: '/srv/a/shared/logs', tmp: '/tmp' } })])).toEqual([
      "targets.a.path: /srv/a/current is a file, not pollpray's symlink into releases/ (switching it would fail after a whole build): move it away (mv /srv/a/current /srv/a/current.old)",
    ]);
    expect(lines([releases('a', '/srv/a', { shared: { logs: '/srv/a/shared/logs', up: '/srv/a/releases' } })])).toEqual([
      'targets.a.shared[1]: /srv/a/shared/up leads through a symlink into /srv/a/releases/ (/srv/a/releases): shared data must outlive the releases pollpray replaces and prunes; point the link at a directory for this app\'s data (or remove it: pollpray creates /srv/a/shared/up)',
    ]);
  });

  it('messages in full: nesting through links, and a current that points elsewhere', () => {
    expect(lines([plain('a', '/srv/a'), plain('b', '/var/www/b', '/srv/a/x')])).toEqual([
      'targets.b.path: is inside target "a"\'s path /srv/a once symlinks are resolved (/srv/a/x is in /srv/a): targets must not nest; move one of them',
    ]);
    expect(lines([plain('a', '/srv/a', '/data/x/a'), plain('b', '/var/www/b', '/data/x')])).toEqual([
      'targets.b.path: contains target "a"\'s path /srv/a once symlinks are resolved (/data/x/a is in /data/x): targets must not nest; move one of them',
    ]);
    expect(lines([plain('a', '/srv/a', '/data/a'), plain('b', '/var/www/b', '/data/a')])).toEqual([
      'targets.b.path: is the same directory as target "a"\'s path /srv/a once symlinks are resolved (both are /data/a): give each target a directory of its own',
    ]);
    expect(lines([releases('a', '/srv/a', { current: { kind: 'symlink', to: '/opt/builds/7', dir: '/opt/builds' } })])).toEqual([
      'targets.a.path: /srv/a/current points at /opt/builds/7, outside /srv/a/releases/: another tool manages this directory; give the target a directory of its own, or remove the link (rm /srv/a/current)',
    ]);
    expect(lines([releases('a', '/srv/a', { shared: { media: '/srv/b/media' } }), plain('b', '/srv/b')])).toEqual([
      'targets.a.shared[0]: /srv/a/shared/media leads through a symlink into target "b"\'s path /srv/b (/srv/b/media): a target\'s shared data must not be another target\'s files; point the link at a directory for this app\'s data (or remove it: pollpray creates /srv/a/shared/media)',
    ]);
    expect(lines([releases('a', '/srv/a', { shared: { www: '/var/www' } }), plain('b', '/var/www/b')])).toEqual([
      'targets.a.shared[0]: /srv/a/shared/www leads through a symlink to /var/www, which holds target "b"\'s path /var/www/b: point the link at a directory for this app\'s data (or remove it: pollpray creates /srv/a/shared/www)',
    ]);
    expect(lines([releases('a', '/srv/a', { shared: { all: '/srv' } })])).toEqual([
      'targets.a.shared[0]: /srv/a/shared/all leads through a symlink to /srv, which holds this target\'s own directory: point the link at a directory for this app\'s data (or remove it: pollpray creates /srv/a/shared/all)',
    ]);
  });
});
