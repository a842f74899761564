/**
 * A real git "origin" for a test: a bare repo (`origin.git`, branch `main`) and a work clone
 * that commits and pushes to it. git runs with argv arrays, no system config and HOME in the
 * temp dir, so the developer's ~/.gitconfig (signing, hooks, templates) never leaks in.
 */
import { execa } from 'execa';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { onTestFinished } from 'vitest';

export interface Origin {
  /** Temp dir holding everything below. */
  dir: string;
  /** Absolute path of the bare repo (`<dir>/origin.git`). */
  bare: string;
  /** Absolute path of the work clone used to make commits. */
  work: string;
  /** `file://` URL of the bare repo. */
  url: string;
  /** The environment these helpers run git with (HOME in the temp dir, no system config). */
  env: Record<string, string>;
  /** Full sha of `main` in the bare repo. */
  head(): Promise<string>;
  /** Writes files (paths may contain `/`), commits on main, pushes; returns the full sha. */
  commit(files: Record<string, string>, message?: string, opts?: { executable?: string[] }): Promise<string>;
  /** Force-pushes main to `sha` (an older commit); later commit() calls build on it. */
  forcePushTo(sha: string): Promise<void>;
  /** Creates branch `name` at `sha` (default: main's head) in the bare repo. */
  createBranch(name: string, sha?: string): Promise<void>;
  /** Deletes branch `name` from the bare repo. */
  deleteBranch(name: string): Promise<void>;
  /** Runs git in the work clone (or elsewhere with `cwd`) with this origin's environment. */
  git(args: string[], cwd?: string): Promise<string>;
  /** Removes the temp dir. Idempotent; registered with onTestFinished when made inside a test. */
  cleanup(): void;
}

/** Registers `fn` with the current test if there is one; returns whether it did. */
export function onTestFinishedIfInTest(fn: () => unknown): boolean {
  try {
    onTestFinished(async () => {
      await fn();
    });
    return true;
  } catch {
    return false; // called from beforeAll or outside vitest: the caller disposes
  }
}

/** Environment for git: inherited PATH etc., every GIT_* variable dropped, HOME isolated. */
export function isolatedGitEnv(home: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('GIT_')) env[k] = v;
  }
  return {
    ...env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
  };
}

export async function makeOrigin(): Promise<Origin> {
  const dir = mkdtempSync(join(tmpdir(), 'pollpray-origin-'));
  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    rmSync(dir, { recursive: true, force: true });
  };
  onTestFinishedIfInTest(cleanup);

  const home = join(dir, 'home');
  mkdirSync(home);
  const env = isolatedGitEnv(home);
  const bare = join(dir, 'origin.git');
  const work = join(dir, 'work');

  const git = async (args: string[], cwd = work): Promise<string> => {
    const r = await execa('git', args, { cwd, env, extendEnv: false, stdin: 'ignore' });
    return r.stdout.trim();
  };

  try {
    await git(['init', '-q', '--bare', '-b', 'main', bare], dir);
    await git(['init', '-q', '-b', 'main', work], dir);
    for (const [key, value] of [
      ['user.name', 'Pollpray Test'],
      ['user.email', 'test@pollpray.invalid'],
      ['commit.gpgsign', 'false'],
      ['tag.gpgsign', 'false'],
      ['gc.auto', '0'],
      ['core.hooksPath', '/dev/null'],
    ] as const) {
      await git(['config', key, value]);
    }
    await git(['config', 'gc.auto', '0'], bare);
    await git(['remote', 'add', 'origin', bare]);
  } catch (err) {
    cleanup();
    throw err;
  }

  const origin: Origin = {
    dir,
    bare,
    work,
    url: pathToFileURL(bare).href,
    env,
    git,
    cleanup,
    async head() {
      return git(['rev-parse', '--verify', 'refs/heads/main^{commit}'], bare);
    },
    async commit(files, message = 'Update files', opts = {}) {
      for (const [name, content] of Object.entries(files)) {
        const path = join(work, name);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, content);
      }
      for (const name of opts.executable ?? []) chmodSync(join(work, name), 0o755);
      await git(['add', '--all', '--', ...Object.keys(files), ...(opts.executable ?? [])]);
      await git(['commit', '-q', '--allow-empty', '-m', message]);
      await git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
      return git(['rev-parse', 'HEAD']);
    },
    async forcePushTo(sha) {
      await git(['reset', '-q', '--hard', sha]);
      await git(['push', '-q', '--force', 'origin', 'HEAD:refs/heads/main']);
    },
    async createBranch(name, sha) {
      await git(['update-ref', `refs/heads/${name}`, sha ?? (await origin.head())], bare);
    },
    async deleteBranch(name) {
      await git(['update-ref', '-d', `refs/heads/${name}`], bare);
    },
  };

  try {
    await origin.commit({ README: 'pollpray test origin\n' }, 'Initial commit');
  } catch (err) {
    cleanup();
    throw err;
  }
  return origin;
}
