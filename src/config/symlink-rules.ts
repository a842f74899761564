/**
 * Row 22 of the failure modes: a target's directories must not lead, through a
 * symlink, where a deploy would damage something else. Operators symlink on purpose
 * (`/srv -> /data/srv`, `shared/media ->` an NFS mount), so a link alone is never the
 * problem; where it leads is: a system directory, another target's directory, or the
 * releases pollpray itself replaces and prunes. A `current` that is not pollpray's
 * symlink means another tool (or a hand deploy) owns the directory.
 *
 * Pure: decides on the facts path-facts.ts looked up, so each case is table-tested.
 * The filesystem can change after validation; this catches mistakes, it is no sandbox.
 */
import { isWithin, pathRelation as relation } from '../real-location.js';
import type { SharedFacts, TargetPaths } from './path-facts.js';
import type { Finding } from './report.js';

/** Directories no target may be, or share data with, whether named or reached through a link. */
export const SYSTEM_DIRS: ReadonlySet<string> = new Set([
  '/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/proc', '/root', '/run', '/sbin', '/sys', '/usr', '/var',
  // Their real names on merged-/usr systems (/lib -> usr/lib).
  '/usr/bin', '/usr/lib', '/usr/lib32', '/usr/lib64', '/usr/sbin',
]);

export function symlinkFindings(targets: readonly TargetPaths[]): Finding[] {
  return targets.flatMap((t, i) => {
    const own = pathFinding(t, targets.slice(0, i));
    return [...(own ? [{ path: ['targets', t.name, 'path'], message: own }] : []), ...currentFindings(t), ...sharedFindings(t, targets)];
  });
}

/** One problem with the target's own directory, at most: the first sends the user to the right line. */
function pathFinding(t: TargetPaths, earlier: readonly TargetPaths[]): string | undefined {
  if (SYSTEM_DIRS.has(t.real)) {
    const what = t.real === t.path ? `is the system directory ${t.real}` : `leads through a symlink to the system directory ${t.real}`;
    return `${what}: give the target a directory of its own (e.g. /srv/${t.name})`;
  }
  for (const e of earlier) {
    // Overlaps visible in the text are reported by the distinctPaths rule.
    if (relation(t.path, e.path)) continue;
    const rel = relation(t.real, e.real);
    if (rel === 'same') return `is the same directory as target "${e.name}"'s path ${e.path} once symlinks are resolved (both are ${t.real}): give each target a directory of its own`;
    if (rel === 'inside') return `is inside target "${e.name}"'s path ${e.path} once symlinks are resolved (${t.real} is in ${e.real}): targets must not nest; move one of them`;
    if (rel === 'contains') return `contains target "${e.name}"'s path ${e.path} once symlinks are resolved (${e.real} is in ${t.real}): targets must not nest; move one of them`;
  }
  return undefined;
}

function currentFindings(t: TargetPaths): Finding[] {
  if (!t.releases) return [];
  const { current, releasesDir } = t.releases;
  const at = ['targets', t.name, 'path'];
  const link = `${t.path}/current`;
  if (current.kind === 'not-a-symlink')
    return [{ path: at, message: `${link} is a ${current.what}, not pollpray's symlink into releases/ (switching it would fail after a whole build): move it away (mv ${link} ${link}.old)` }];
  if (current.kind === 'symlink' && current.dir !== releasesDir)
    return [{ path: at, message: `${link} points at ${current.to}, outside ${t.path}/releases/: another tool manages this directory; give the target a directory of its own, or remove the link (rm ${link})` }];
  return [];
}

function sharedFindings(t: TargetPaths, all: readonly TargetPaths[]): Finding[] {
  if (!t.releases) return [];
  const { releasesDir } = t.releases;
  return t.releases.shared.flatMap((s) => {
    const message = sharedProblem(t, releasesDir, s, all);
    return message ? [{ path: ['targets', t.name, 'shared', s.index], message: `${t.path}/shared/${s.entry} ${message}` }] : [];
  });
}

function sharedProblem(t: TargetPaths, releasesDir: string, s: SharedFacts, all: readonly TargetPaths[]): string | undefined {
  // Not redirected: the data stays in <path>/shared/, where pollpray puts it.
  if (s.real === s.written) return undefined;
  const fix = `point the link at a directory for this app's data (or remove it: pollpray creates ${t.path}/shared/${s.entry})`;
  if (SYSTEM_DIRS.has(s.real)) return `leads through a symlink to the system directory ${s.real}: every release would write there; ${fix}`;
  if (isWithin(s.real, releasesDir))
    return `leads through a symlink into ${t.path}/releases/ (${s.real}): shared data must outlive the releases pollpray replaces and prunes; ${fix}`;
  if (isWithin(t.real, s.real)) return `leads through a symlink to ${s.real}, which holds this target's own directory: ${fix}`;
  for (const o of all) {
    if (o === t) continue;
    const rel = relation(s.real, o.real);
    if (rel === 'contains') return `leads through a symlink to ${s.real}, which holds target "${o.name}"'s path ${o.path}: ${fix}`;
    if (rel) return `leads through a symlink into target "${o.name}"'s path ${o.path} (${s.real}): a target's shared data must not be another target's files; ${fix}`;
  }
  return undefined;
}
