/**
 * Tests that need a binary or a privilege the machine lacks: skip loudly locally, FAIL in CI.
 *
 *   describe.skipIf(requireBinary('sshd', 'openssh-server'))('over ssh', () => { ... });
 *   describe.skipIf(requireRoot() || requireBinary('sudo', 'sudo'))('restart via sudo', ...);
 *
 * Every helper returns `true` when the test must be skipped (so it plugs straight into
 * `describe.skipIf` / `it.skipIf`), prints the reason to stderr, and throws instead of
 * returning `true` when `CI` is set, so a CI run can never turn green by skipping.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** CI is "set" unless empty, "0" or "false" (GitHub, GitLab and our .ci/run all set CI=true). */
export function isCI(): boolean {
  const v = process.env.CI;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/**
 * The single decision point. Returns `true` ("skip") when `available` is false, after printing
 * `SKIPPED (needs WHAT): WHY` to stderr; under CI it throws that message instead.
 */
export function needs(what: string, available: boolean, why: string): boolean {
  if (available) return false;
  const message = `SKIPPED (needs ${what}): ${why}`;
  if (isCI()) throw new Error(`CI must not skip tests: ${message}`);
  process.stderr.write(`\n!!! ${message}\n\n`);
  return true;
}

const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Absolute path of an executable found on PATH or in the sbin dirs (sshd, visudo live there). */
export function findBinary(name: string): string | undefined {
  const candidates = isAbsolute(name)
    ? [name]
    : [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN_DIRS].map((d) => join(d, name));
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** Skip (locally) / fail (CI) unless `name` is executable; `pkg` names what to install. */
export function requireBinary(name: string, pkg: string = name): boolean {
  return needs(name, findBinary(name) !== undefined, `${name} not found on PATH or in ${SBIN_DIRS.join(', ')} — install ${pkg}`);
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Skip (locally) / fail (CI) unless running as root (creating users, writing /etc/sudoers.d). */
export function requireRoot(): boolean {
  return needs('root', isRoot(), `running as uid ${process.getuid?.() ?? '?'}; run the suite as root (CI does)`);
}
