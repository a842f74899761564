/**
 * Parsers for ssh host and user key material: known_hosts lines, `ssh -G` output, and
 * SHA256 fingerprints computed the way `ssh-keygen -l` prints them. Pure, unit-tested.
 */
import { createHash } from 'node:crypto';

export interface KeyLine {
  /** The host field as written (`github.com`, `[127.0.0.1]:2222`, a hashed `|1|…`, a list). */
  hosts: string;
  type: string;
  blob: string;
}

/** `ssh-ed25519 AAAA…` (base64 blob) → `SHA256:…` without padding, as ssh-keygen -l shows it. */
export function fingerprint(blob: string): string {
  const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** Host key lines of a known_hosts file (or ssh-keyscan output); comments and markers skipped. */
export function parseKnownHosts(text: string): KeyLine[] {
  const lines: KeyLine[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@')) continue;
    const [hosts, type, blob] = line.split(/\s+/);
    if (hosts && type && blob) lines.push({ hosts, type, blob });
  }
  return lines;
}

export function keyLineText(k: KeyLine): string {
  return `${k.hosts} ${k.type} ${k.blob}`;
}

/** Does a known_hosts host field name exactly `name` (no hashing, no wildcards)? */
export function hostFieldNames(hosts: string, name: string): boolean {
  return hosts.split(',').includes(name);
}

/** The settings `ssh -G` resolved for a destination (after aliases, -p, -l, -i). */
export interface ResolvedSsh {
  hostname: string;
  port: number;
  user: string;
  identityFiles: string[];
  hostKeyAlias?: string;
}

export function parseSshG(stdout: string): ResolvedSsh {
  const values = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space <= 0) continue;
    const key = line.slice(0, space).toLowerCase();
    values.set(key, [...(values.get(key) ?? []), line.slice(space + 1).trim()]);
  }
  const one = (k: string) => values.get(k)?.[0];
  const alias = one('hostkeyalias');
  return {
    hostname: one('hostname') ?? '',
    port: Number(one('port') ?? 22),
    user: one('user') ?? '',
    identityFiles: values.get('identityfile') ?? [],
    ...(alias && alias !== 'none' ? { hostKeyAlias: alias } : {}),
  };
}

/** ssh's built-in identity list, which `ssh -G` prints when nothing names a key. */
export function isDefaultIdentity(path: string): boolean {
  return /^~\/\.ssh\/id_[a-z0-9_]+$/.test(path);
}
