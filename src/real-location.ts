/**
 * Where an absolute path really leads: every existing component's symlink followed as
 * the kernel would, and the part that does not exist yet appended as written.
 * realpath(3) cannot answer this: it fails on a path that does not exist yet and on a
 * dangling link, and a link to where something is about to be created is exactly what
 * a deploy must not follow blindly.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';

/** Linux gives up after 40 links (ELOOP); so does this. */
const MAX_LINKS = 40;

export function realLocation(path: string): string {
  // A stack of the components still to walk, the next one last.
  const pending = path.split('/').filter(Boolean).reverse();
  let here = '/';
  let links = 0;
  while (pending.length > 0) {
    const part = pending.pop() as string;
    if (part === '.') continue;
    if (part === '..') {
      // `here` is already real, so its parent is the real parent.
      here = posix.dirname(here);
      continue;
    }
    const next = posix.join(here, part);
    let link: string | undefined;
    try {
      link = lstatSync(next).isSymbolicLink() ? readlinkSync(next) : undefined;
    } catch {
      // Nothing there yet (or not searchable): the rest is where it would be created.
      return posix.join(next, ...pending.reverse());
    }
    if (link === undefined) {
      here = next;
      continue;
    }
    if (++links > MAX_LINKS) return posix.join(next, ...pending.reverse());
    if (link.startsWith('/')) here = '/';
    pending.push(...link.split('/').filter(Boolean).reverse());
  }
  return here;
}

/** `inner` is `outer` or below it (both real, absolute, normalised). */
export function isWithin(inner: string, outer: string): boolean {
  return inner === outer || outer === '/' || inner.startsWith(`${outer}/`);
}

export type PathRelation = 'same' | 'inside' | 'contains';

/** How path `a` stands to path `b` (both absolute, normalised), or undefined when apart. */
export function pathRelation(a: string, b: string): PathRelation | undefined {
  if (a === b) return 'same';
  if (isWithin(a, b)) return 'inside';
  if (isWithin(b, a)) return 'contains';
  return undefined;
}
