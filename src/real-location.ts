/**
 * Where paths really lead: one walker that follows symlinks as the kernel does, for the
 * config's path rules, the releases' shared links and the file-trust rule.
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';

/** Linux gives up after 40 links (ELOOP); so does this. */
const MAX_LINKS = 40;

/** One existing component a walk passes, before it is followed when it is a link. */
export interface WalkStep {
  /** The real directory it is looked up in, and that directory's lstat. */
  dir: string;
  dirStat: Stats;
  /** The component's own path (`dir`/name) and lstat. */
  path: string;
  stat: Stats;
  /** Nothing of the path comes after it (a link's target still may). */
  last: boolean;
}

/**
 * Walks an absolute path as the kernel resolves it: component by component, each
 * symlink's target walked in its place, `..` taken from the real parent. `visit` sees every
 * existing component and may stop the walk by returning true. The one walker both the
 * real location (below) and the file-trust rule (src/config/file-trust.ts) use, so the two
 * can never disagree about where a path leads.
 *
 * Returns where the walk got to: the real path, with the part that does not exist (or
 * lies past a loop or a stop) appended as written; `ended` says why it ended.
 */
export function walkPath(path: string, visit?: (step: WalkStep) => boolean | void): { real: string; ended: 'done' | 'missing' | 'loop' | 'stopped' } {
  // A stack of the components still to walk, the next one last.
  const pending = path.split('/').filter(Boolean).reverse();
  const rest = (at: string) => posix.join(at, ...pending.reverse());
  let here = '/';
  let hereStat: Stats;
  try {
    hereStat = lstatSync(here);
  } catch {
    return { real: rest(here), ended: 'missing' };
  }
  let links = 0;
  while (pending.length > 0) {
    const part = pending.pop() as string;
    if (part === '.') continue;
    if (part === '..') {
      // `here` is already real, so its parent is the real parent (and was walked through).
      here = posix.dirname(here);
      hereStat = lstatSync(here);
      continue;
    }
    const next = posix.join(here, part);
    let st: Stats;
    try {
      st = lstatSync(next);
    } catch {
      // Nothing there yet (or not searchable): the rest is where it would be created.
      return { real: rest(next), ended: 'missing' };
    }
    if (visit?.({ dir: here, dirStat: hereStat, path: next, stat: st, last: pending.length === 0 })) return { real: rest(next), ended: 'stopped' };
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) return { real: rest(next), ended: 'loop' };
      const link = readlinkSync(next);
      if (link.startsWith('/')) {
        here = '/';
        hereStat = lstatSync(here);
      }
      pending.push(...link.split('/').filter(Boolean).reverse());
      continue;
    }
    here = next;
    hereStat = st;
  }
  return { real: here, ended: 'done' };
}

/**
 * Where an absolute path really leads: every existing component's symlink followed as
 * the kernel would, and the part that does not exist yet appended as written.
 * realpath(3) cannot answer this: it fails on a path that does not exist yet and on a
 * dangling link, and a link to where something is about to be created is exactly what
 * a deploy must not follow blindly.
 */
export function realLocation(path: string): string {
  return walkPath(path).real;
}

/** `inner` is `outer` or below it (both real, absolute, normalised). */
export function isWithin(inner: string, outer: string): boolean {
  // No `${outer}/` string per call: config rules compare every pair of 200 targets' paths.
  return inner === outer || outer === '/' || (inner.length > outer.length && inner.charCodeAt(outer.length) === 0x2f && inner.startsWith(outer));
}

export type PathRelation = 'same' | 'inside' | 'contains';

/** How path `a` stands to path `b` (both absolute, normalised), or undefined when apart. */
export function pathRelation(a: string, b: string): PathRelation | undefined {
  if (a === b) return 'same';
  if (isWithin(a, b)) return 'inside';
  if (isWithin(b, a)) return 'contains';
  return undefined;
}
