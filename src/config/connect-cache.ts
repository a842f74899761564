/**
 * What a validated config's ssh connections look like, kept between runs so the next
 * `run` of the same config can start its handshakes before it has parsed and validated
 * the config again (git/early-connect.ts). Keyed by the config file's path and exact
 * content and the running user; nothing but ssh master argvs and the files the config
 * names (which are trust-checked again before any use) is kept.
 *
 * The file is `~/.cache/pollpray/connect-<hash of the config path>.json`, mode 0600 in a
 * 0700 directory. Read back it is untrusted data: used only when it passes the same
 * trust rule as the config (owned by root or the user, nobody else can change it or a
 * directory on its way), when its shape is right and its key matches, and the early
 * masters it starts are kept only if the validated config produces exactly the same
 * argv (multiplex.ts); otherwise they are closed.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { MasterPlan } from '../git/multiplex.js';
import { VERSION } from '../version.js';

export interface ConnectRecord {
  v: 1;
  key: string;
  /** Every file the config names (namedFiles), each once: checked again before an early connection. */
  files: string[];
  /** The state and log dirs (namedFiles' `writes`), checked as run checks them. */
  dirs: string[];
  plans: MasterPlan[];
}

interface CacheState {
  /** Set by the `run` command's early start: only then is the cache written. */
  armed: boolean;
  home?: string;
  /** The raw text read back, to write only when something changed. */
  readBack?: string;
  /** The key of the config text loadConfig validated last. */
  loaded?: { file: string; key: string };
}

const state: CacheState = { armed: false };

export function configKey(file: string, text: string, uid: number): string {
  return createHash('sha256').update(JSON.stringify([VERSION, uid, resolve(file), text])).digest('hex');
}

export function cacheFile(home: string, configFile: string): string {
  return join(home, '.cache', 'pollpray', `connect-${createHash('sha256').update(resolve(configFile)).digest('hex').slice(0, 16)}.json`);
}

export function armConnectCache(home: string): void {
  state.armed = true;
  state.home = home;
}

/** loadConfig tells which text it validated, so the record written after it carries that text's key. */
export function noteLoadedConfig(file: string, text: string, uid: number): void {
  if (state.armed) state.loaded = { file: resolve(file), key: configKey(file, text, uid) };
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string' && !s.includes('\0'));

function isPlan(v: unknown): v is MasterPlan {
  const p = v as Partial<MasterPlan> | null;
  return (
    typeof p === 'object' && p !== null &&
    typeof p.group === 'string' &&
    typeof p.path === 'string' && p.path.startsWith('/') && !p.path.includes('\0') &&
    isStrings(p.base) && p.base[0] === 'ssh' &&
    isStrings(p.dest) && p.dest.includes('--') &&
    typeof p.timeoutMs === 'number' && Number.isInteger(p.timeoutMs) && p.timeoutMs > 0 && p.timeoutMs <= 3_600_000
  );
}

/** The record in `file` when it is well-formed and carries `key`; anything else is no record. */
export function readConnectRecord(file: string, key: string): ConnectRecord | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  state.readBack = text;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = data as Partial<ConnectRecord> | null;
  const absolute = (v: unknown): v is string[] => isStrings(v) && v.every((f) => f.startsWith('/'));
  if (typeof r !== 'object' || r === null || r.v !== 1 || r.key !== key || !absolute(r.files) || !absolute(r.dirs)) return undefined;
  if (!Array.isArray(r.plans) || r.plans.length > 256 || !r.plans.every(isPlan)) return undefined;
  return r as ConnectRecord;
}

/** Writes the record of the config `run` just validated, when armed and when it changed. Best effort. */
export function saveConnectRecord(
  configFile: string,
  files: string[],
  dirs: string[],
  plans: MasterPlan[],
  // The state store's atomic write (no temp followed through a link, dead writers' temps
  // removed), passed in: importing it here would load the store and zod into the early chunk.
  writeAtomic: (file: string, text: string, mode: number) => void,
): void {
  const { loaded, home } = state;
  if (!state.armed || !home || !loaded || loaded.file !== resolve(configFile)) return;
  const text = `${JSON.stringify({ v: 1, key: loaded.key, files: [...new Set(files)], dirs: [...new Set(dirs)], plans } satisfies ConnectRecord)}\n`;
  if (text === state.readBack) return;
  const file = cacheFile(home, configFile);
  try {
    // Never the home itself: a HOME that does not exist (`/nonexistent`, a removed user's)
    // stays that way, and only the run's head start next time is lost.
    for (const dir of [join(home, '.cache'), join(home, '.cache', 'pollpray')]) {
      try {
        mkdirSync(dir, { mode: 0o700 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    writeAtomic(file, text, 0o600);
    state.readBack = text;
  } catch {
    // Only a later run's head start is lost.
  }
}
