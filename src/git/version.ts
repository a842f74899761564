/**
 * The part of semver a deploy target needs: parse a tag as a version, order versions,
 * and match npm-style ranges (`>=1.0.0 <2`, `^1.2`, `~1.4.0`, `1.x`, `a || b`).
 * Written here instead of depending on `semver`: tags need only this subset, and the
 * one rule that differs is deliberate and documented (a range never matches a
 * prerelease unless the range itself names one, so `>=1` never deploys `2.0.0-rc.1`).
 */

export interface Version {
  major: number;
  minor: number;
  patch: number;
  prerelease: (string | number)[];
}

const VERSION = /^[vV]?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/** A tag like `v1.2.3`, `1.2.3-rc.1` or `v2` as a version; undefined when it is not one. */
export function parseVersion(text: string): Version | undefined {
  const m = VERSION.exec(text.trim());
  if (!m) return undefined;
  const num = (s: string | undefined) => (s === undefined ? 0 : Number(s));
  const prerelease = m[4] ? m[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [];
  if (prerelease.some((p) => p === '')) return undefined;
  return { major: num(m[1]), minor: num(m[2]), patch: num(m[3]), prerelease };
}

export function compareVersions(a: Version, b: Version): number {
  for (const key of ['major', 'minor', 'patch'] as const) if (a[key] !== b[key]) return a[key] < b[key] ? -1 : 1;
  // A release sorts after its prereleases: 1.0.0-rc.1 < 1.0.0.
  if (a.prerelease.length === 0 || b.prerelease.length === 0) return Math.sign(b.prerelease.length - a.prerelease.length);
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i];
    const y = b.prerelease[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : 1;
    if (typeof x === 'number') return -1; // numeric identifiers sort before alphanumeric ones
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

type Op = '<' | '<=' | '>' | '>=' | '=';
interface Comparator {
  op: Op;
  version: Version;
}

const PARTIAL = /^[vV]?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?$/;

/** `1.x`, `1`, `1.2.*` → the numbers given (undefined where a wildcard or missing). */
function parsePartial(text: string): { parts: (number | undefined)[]; prerelease: (string | number)[] } | undefined {
  const m = PARTIAL.exec(text);
  if (!m) return undefined;
  const parts = [m[1], m[2], m[3]].map((p) => (p === undefined || /^[xX*]$/.test(p) ? undefined : Number(p)));
  // A number after a wildcard (1.x.3) is meaningless.
  if (parts.some((p, i) => p !== undefined && parts.slice(0, i).includes(undefined))) return undefined;
  const prerelease = m[4] ? m[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [];
  return { parts, prerelease };
}

const v = (major: number, minor = 0, patch = 0, prerelease: (string | number)[] = []): Version => ({ major, minor, patch, prerelease });

/** One space-separated term of a range as comparators; undefined when it cannot be read. */
function termComparators(term: string): Comparator[] | undefined {
  const m = /^(\^|~|>=|<=|>|<|=)?(.+)$/.exec(term);
  if (!m) return undefined;
  const op = m[1] ?? '';
  const p = parsePartial(m[2] ?? '');
  if (!p) return undefined;
  const [major, minor, patch] = p.parts;
  if (major === undefined) return op === '' || op === '=' || op === '>=' ? [] : op === '<' ? [{ op: '<', version: v(0, 0, 0, [0]) }] : [];
  const lower = v(major, minor ?? 0, patch ?? 0, p.prerelease);
  const nextMinor = () => v(major, (minor ?? 0) + 1, 0, [0]);
  const nextMajor = () => v(major + 1, 0, 0, [0]);
  switch (op) {
    case '^': {
      const upper = major > 0 || minor === undefined ? nextMajor() : (minor ?? 0) > 0 || patch === undefined ? nextMinor() : v(0, 0, (patch ?? 0) + 1, [0]);
      return [{ op: '>=', version: lower }, { op: '<', version: upper }];
    }
    case '~':
      return [{ op: '>=', version: lower }, { op: '<', version: minor === undefined ? nextMajor() : nextMinor() }];
    case '':
    case '=':
      if (minor === undefined) return [{ op: '>=', version: lower }, { op: '<', version: nextMajor() }];
      if (patch === undefined) return [{ op: '>=', version: lower }, { op: '<', version: nextMinor() }];
      return [{ op: '=', version: lower }];
    case '>':
      // >1 means >=2.0.0; >1.2 means >=1.3.0.
      if (minor === undefined) return [{ op: '>=', version: v(major + 1) }];
      if (patch === undefined) return [{ op: '>=', version: v(major, minor + 1) }];
      return [{ op: '>', version: lower }];
    case '<=':
      if (minor === undefined) return [{ op: '<', version: nextMajor() }];
      if (patch === undefined) return [{ op: '<', version: nextMinor() }];
      return [{ op: '<=', version: lower }];
    case '<':
      // <2 excludes 2.0.0-rc.1 too: a prerelease of the bound is not "below 2".
      return [{ op: '<', version: p.prerelease.length ? lower : v(lower.major, lower.minor, lower.patch, [0]) }];
    default:
      return [{ op: op as Op, version: lower }];
  }
}

export interface VersionRange {
  alternatives: Comparator[][];
  /** The range names a prerelease, so prereleases may match it. */
  allowsPrerelease: boolean;
}

/** An npm-style range; undefined when any part cannot be read. */
export function parseRange(text: string): VersionRange | undefined {
  const alternatives: Comparator[][] = [];
  for (const alt of text.split('||')) {
    // ">= 1.0.0" and ">=1.0.0" mean the same.
    const terms = alt.trim().replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1').split(/\s+/).filter(Boolean);
    if (terms.length === 0) return undefined;
    const comparators: Comparator[] = [];
    for (const term of terms) {
      const c = termComparators(term);
      if (!c) return undefined;
      comparators.push(...c);
    }
    alternatives.push(comparators);
  }
  return { alternatives, allowsPrerelease: /\d-[0-9A-Za-z]/.test(text) };
}

function satisfiesComparator(version: Version, c: Comparator): boolean {
  const cmp = compareVersions(version, c.version);
  switch (c.op) {
    case '<':
      return cmp < 0;
    case '<=':
      return cmp <= 0;
    case '>':
      return cmp > 0;
    case '>=':
      return cmp >= 0;
    case '=':
      return cmp === 0;
  }
}

export function satisfies(version: Version, range: VersionRange): boolean {
  if (version.prerelease.length > 0 && !range.allowsPrerelease) return false;
  return range.alternatives.some((alt) => alt.every((c) => satisfiesComparator(version, c)));
}
