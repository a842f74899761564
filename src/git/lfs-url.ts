/**
 * `lfs: { url: … }`: the Git LFS server of a repository that keeps its LFS objects
 * somewhere other than its forge (a separate LFS server or bucket). The URL comes from
 * the config, i.e. from the operator, and is pinned as git-lfs's `lfs.url` exactly where
 * the endpoint derived from `repo` would be (src/git/fetch.ts), so a committed
 * `.lfsconfig` still cannot move it. Checked at load, as `repo` is: the transports
 * git-lfs speaks to an API server or store (https, http, ssh, file), nothing an option
 * parser or a second argument could take it for.
 */
import { sshDestination, sshUrlProblem } from './ssh-url.js';

const FORMS = 'must be an https://, http://, ssh:// or file:// URL (or user@host:path for ssh)';

/** Why `url` cannot be a target's LFS server, or undefined when it can. */
export function lfsUrlProblem(url: string): string | undefined {
  if (url.startsWith('-')) return 'must not start with "-" (it would be read as an option)';
  if (/[\s\x00-\x1f\x7f]/.test(url)) return 'must not contain spaces or control characters';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return 'is not a valid URL';
    }
    return parsed.hostname ? undefined : 'is not a valid URL (it names no host)';
  }
  if (scheme === 'file') return /^file:\/\/\//i.test(url) ? undefined : 'must be file:///absolute/path (a local LFS store: a bare repository holding lfs/objects)';
  if (scheme === 'ssh' || scheme === 'git+ssh' || scheme === 'ssh+git') return sshUrlProblem(url) ?? (sshDestination(url) ? undefined : 'is not a valid ssh URL');
  if (scheme === undefined && sshDestination(url)) return sshUrlProblem(url);
  return FORMS;
}
