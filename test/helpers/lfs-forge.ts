/**
 * Git LFS as GitHub, GitLab and Gitea serve it to an ssh remote: the repository is reached
 * over ssh (`git@host:acme/app.git`, or `ssh://git@host/acme/app.git`) on a real loopback
 * sshd whose only command is the forge's ssh front; git-lfs asks the same host
 * `git-lfs-authenticate acme/app.git download` (after `git-lfs-transfer`, which this forge,
 * like GitHub, refuses), and the answer names the LFS API URL (`href`: a real HTTP LFS
 * server over the origin's LFS store) and a `RemoteAuth` token that server requires.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { startLfsHttp, type LfsHttpServer } from './lfs-http.js';
import type { Origin } from './origin.js';
import { linesOf, makeWorld, type World } from './pollpray-cli.js';
import { lfsOrigin } from './repos.js';
import { startSshd, type Sshd } from './sshd.js';

export interface LfsForge {
  origin: Origin;
  sshd: Sshd;
  lfs: LfsHttpServer;
  world: World;
  /** `handed`: the token git-lfs-authenticate hands out; `accepted`: the one the LFS server takes (a test may make them differ). */
  tokens: { handed: string; accepted: string };
  /** Rewrites the config, `extra` merged over the target. */
  write(extra?: Record<string, unknown>): void;
  /** Every command the forge's ssh front was asked to run, in order. */
  commands(): string[];
  /** The deployed tree (in-place: the checkout; releases: the release `current` names). */
  tree(): string;
  /** Git LFS turned off for the repository: git-lfs-authenticate refuses, as gitlab-shell's then does. */
  disableLfs(): void;
  /** Commits `big.bin` with `content` in LFS (and `files` as they are), pushes its object to the LFS store and the commit to main; the sha. */
  commitLfs(content: string, files?: Record<string, string>): Promise<string>;
}

export async function lfsForge(strategy: 'in-place' | 'releases', url: 'scp' | 'ssh' = 'scp'): Promise<LfsForge> {
  const origin = await lfsOrigin('first LFS content\n');
  const world = makeWorld();
  // The forge's repositories: <root>/acme/app.git.
  const root = mkdtempSync(join(tmpdir(), 'pollpray-forge-'));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'acme'));
  symlinkSync(origin.bare, join(root, 'acme', 'app.git'));
  const tokens = { handed: `tok-${randomBytes(12).toString('hex')}`, accepted: '' };
  tokens.accepted = tokens.handed;
  const tokenFile = join(root, 'token');
  writeFileSync(tokenFile, tokens.handed);
  const lfs = await startLfsHttp(origin.bare, { authorization: () => `RemoteAuth ${tokens.accepted}`, watch: tokens.handed });
  const log = join(root, 'commands.log');
  // The forge's ssh front (gitlab-shell, Gitea's serv, GitHub's): upload-pack for the
  // repository (as `acme/app.git` or `/acme/app.git`), git-lfs-authenticate answering
  // with the API URL and a token as forges do, and nothing else.
  const front = world.script('forge-shell', [
    `cd ${root} || exit 1`,
    `printf '%s\\n' "$SSH_ORIGINAL_COMMAND" >> ${log}`,
    `if [ -e ${root}/lfs-disabled ] && [ "\${SSH_ORIGINAL_COMMAND#git-lfs-authenticate }" != "$SSH_ORIGINAL_COMMAND" ]; then echo 'Git LFS is not enabled for this repository' >&2; exit 1; fi`,
    'case "$SSH_ORIGINAL_COMMAND" in',
    `  "git-upload-pack 'acme/app.git'"|"git-upload-pack '/acme/app.git'") exec git-upload-pack acme/app.git ;;`,
    `  "git-lfs-authenticate acme/app.git download"|"git-lfs-authenticate /acme/app.git download") printf '{"href":"%s","header":{"Authorization":"RemoteAuth %s"},"expires_in":3600}\\n' '${lfs.url}' "$(cat ${tokenFile})" ;;`,
    '  *) echo "Invalid command: $SSH_ORIGINAL_COMMAND" >&2; exit 1 ;;',
    'esac',
  ].join('\n'));
  const sshd = await startSshd({ extraConfig: [`ForceCommand ${front}`] });
  const path = join(world.dir, 'www', 'app');
  const write = (extra: Record<string, unknown> = {}) => world.writeConfig({
    targets: {
      app: {
        repo: url === 'scp' ? `${sshd.user}@127.0.0.1:acme/app.git` : `ssh://${sshd.user}@127.0.0.1:${sshd.port}/acme/app.git`,
        path,
        strategy,
        lfs: true,
        ssh: { key: sshd.clientKey, known_hosts: sshd.knownHostsFile, connect_timeout: '5s', ...(url === 'scp' ? { port: sshd.port } : {}) },
        // git-lfs retries a failed download for about 40 s before it gives up.
        git_timeout: '2m',
        ...(strategy === 'releases' ? { min_free_space: '1MB' } : {}),
        ...extra,
      },
    },
  });
  write();
  return {
    origin,
    sshd,
    lfs,
    world,
    tokens,
    write,
    commands: () => linesOf(log),
    disableLfs: () => writeFileSync(join(root, 'lfs-disabled'), ''),
    tree: () => (strategy === 'releases' ? join(path, readlinkSync(join(path, 'current'))) : path),
    async commitLfs(content, files = {}) {
      writeFileSync(join(origin.work, 'big.bin'), content);
      for (const [name, text] of Object.entries(files)) writeFileSync(join(origin.work, name), text);
      await origin.git(['add', 'big.bin', ...Object.keys(files)]);
      await origin.git(['commit', '-q', '-m', `LFS ${content.trim()}`]);
      await origin.git(['-c', `lfs.url=${origin.url}`, 'lfs', 'push', 'origin', 'main']);
      await origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
      return origin.head();
    },
  };
}

/** Everything pollpray printed (`outputs`), wrote to its log, state and history for the target `app`. */
export function everythingShown(f: LfsForge, outputs: string[]): string {
  const dir = join(f.world.stateDir, 'targets', 'app');
  return [...outputs, ...['state.json', 'history.jsonl'].map((n) => safeRead(join(dir, n))), f.world.logText()].join('\n');
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
