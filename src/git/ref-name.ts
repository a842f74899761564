/**
 * Branch-name rules of `git check-ref-format --branch`, as a pure function so config
 * validation needs no git and the rules are tested against real git in test/unit.
 * A leading `-` is refused on top of git's rules: it would be read as an option
 * (`--upload-pack=...`) by any git command that takes the name as an argument.
 */
export function branchNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.startsWith('-')) return 'starts with "-" and could be read as an option';
  if (name === '@' || name === 'HEAD') return `is "${name}", which git reserves`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return 'contains a space, control character or one of ~^:?*[\\';
  if (name.includes('..')) return 'contains ".."';
  if (name.includes('@{')) return 'contains "@{"';
  if (name.includes('//')) return 'contains "//"';
  if (name.startsWith('/') || name.endsWith('/')) return 'starts or ends with "/"';
  if (name.endsWith('.')) return 'ends with "."';
  for (const part of name.split('/')) {
    if (part.startsWith('.')) return 'has a path component starting with "."';
    if (part.endsWith('.lock')) return 'has a path component ending in ".lock"';
  }
  return undefined;
}

/** A full 40-hex (SHA-1) or 64-hex (SHA-256) object name; commits are only ever moved to by these. */
export function isFullSha(value: string): boolean {
  return /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(value);
}
