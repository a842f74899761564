/**
 * Real sudo for one test (root only): the unprivileged user `pollpray-test`, a root-owned stub
 * `systemctl` that records its argv, and a sudoers drop-in allowing that user to run exactly
 * `<stub> restart <unit>` without a password.
 *
 * Parallel-safe without serialization: the user is shared (created idempotently, never
 * removed), but each fixture has its own id and so its own stub, calls log and drop-in, and its
 * rules only ever name its own stub, so one test's removeRule() cannot affect another's.
 *
 *   describe.skipIf(requireSudoFixture())('restart via sudo', () => { ... });
 */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { onTestFinishedIfInTest } from './origin.js';
import { requireBinary, requireRoot } from './require-env.js';

export const TEST_USER = 'pollpray-test';
/** Stubs live at `${STUB_ROOT}/<id>/systemctl` (root 0755 all the way down). */
export const STUB_ROOT = '/usr/local/libexec/pollpray-test';
/** Calls logs live at `${CALLS_ROOT}/<id>.log` (dir root 0755, log root 0644: only root, i.e. sudo, can append). */
export const CALLS_ROOT = '/tmp/pollpray-test-systemctl';
export const SUDOERS_DIR = '/etc/sudoers.d';

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

export interface RunAsOptions {
  cwd?: string;
  /** Added to the clean login-like environment (HOME, USER, LOGNAME, SHELL, PATH). */
  env?: Record<string, string>;
  timeoutMs?: number;
  input?: string;
}

export interface SudoFixture {
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  /** Unique per fixture; part of every path below. */
  readonly id: string;
  /** Absolute path of this fixture's stub systemctl (what sudoers names). */
  readonly systemctl: string;
  /** One line per stub call: its argv joined by spaces. */
  readonly callsLog: string;
  /** `/etc/sudoers.d/pollpray-test-<id>`. */
  readonly dropIn: string;
  /** Lines of callsLog, e.g. ["restart app.service"]. */
  calls(): Promise<string[]>;
  /** Rewrites the drop-in: NOPASSWD `<stub> <verb> <unit>` for each verb (default restart) and unit. */
  setUnits(units: string[], verbs?: string[]): Promise<void>;
  /** Removes the drop-in: the user may run nothing through sudo with this stub. */
  removeRule(): Promise<void>;
  /** Rewrites the drop-in for the current units without NOPASSWD (sudo -n then fails). */
  ruleWithoutNopasswd(): Promise<void>;
  /**
   * Keeps the NOPASSWD rule and adds `requiretty` (old RHEL/CentOS's default) for this
   * fixture's stub only (`Defaults!<stub>`), so other fixtures of the shared user are not
   * touched: sudo -n of the stub then fails "sorry, you must have a tty to run sudo".
   */
  requireTty(): Promise<void>;
  /** Makes the stub exit with `code` from now on (after recording the call). */
  setStubExit(code: number): void;
  /** chown -R path to the test user (tests' temp dirs are root 0700 otherwise). */
  giveToUser(path: string): Promise<void>;
  /** Runs argv as the test user (uid/gid set by the spawn, no supplementary groups, no PAM). */
  runAs(argv: string[], opts?: RunAsOptions): Promise<RunResult>;
  /** Removes drop-in, stub and calls log; keeps the user. Registered with onTestFinished. */
  cleanup(): Promise<void>;
}

/** Skip loudly locally / fail in CI unless root with sudo, visudo and useradd. */
export function requireSudoFixture(): boolean {
  return requireRoot() || requireBinary('sudo') || requireBinary('visudo', 'sudo') || requireBinary('useradd', 'passwd');
}

interface Account {
  uid: number;
  gid: number;
  home: string;
}

async function lookupUser(): Promise<Account | undefined> {
  const r = await execa('getent', ['passwd', TEST_USER], { reject: false });
  if (r.exitCode !== 0) return undefined;
  const f = r.stdout.trim().split(':');
  return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? `/home/${TEST_USER}` };
}

/** Creates the user once; concurrent callers may race on useradd, so re-check and retry. */
async function ensureUser(): Promise<Account> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const found = await lookupUser();
    if (found) return found;
    const r = await execa('useradd', ['-m', '-s', '/bin/bash', TEST_USER], { reject: false });
    // 0 created, 9 already exists (lost a race), 10 /etc/passwd locked by a concurrent useradd
    if (r.exitCode !== 0 && r.exitCode !== 9 && r.exitCode !== 10) {
      throw new Error(`useradd ${TEST_USER} failed (${r.exitCode}): ${r.stderr}`);
    }
    if (r.exitCode === 10) await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`could not create user ${TEST_USER}`);
}

/** mkdir -p with root 0755, refusing anything that is not a root-owned real directory. */
function rootDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o755 });
  const st = lstatSync(path);
  if (!st.isDirectory() || st.uid !== 0) throw new Error(`${path} must be a directory owned by root`);
  chmodSync(path, 0o755);
}

const UNIT = /^[A-Za-z0-9@._-]+$/;

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function makeSudoFixture(opts: { units?: string[] } = {}): Promise<SudoFixture> {
  if (process.getuid?.() !== 0) throw new Error('makeSudoFixture needs root; guard the suite with requireSudoFixture()');
  if (!existsSync(SUDOERS_DIR)) throw new Error(`${SUDOERS_DIR} missing: is sudo installed?`);
  const account = await ensureUser();
  sweepStale();

  const id = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const stubDir = join(STUB_ROOT, id);
  const systemctl = join(stubDir, 'systemctl');
  const exitFile = join(stubDir, 'exit-code');
  const callsLog = join(CALLS_ROOT, `${id}.log`);
  const dropIn = join(SUDOERS_DIR, `${TEST_USER}-${id}`);
  let units = opts.units ?? ['app.service'];
  let verbs = ['restart'];

  rootDir(dirname(STUB_ROOT));
  rootDir(STUB_ROOT);
  rootDir(stubDir);
  rootDir(CALLS_ROOT);
  writeFileSync(callsLog, '', { mode: 0o644 });
  chmodSync(callsLog, 0o644);
  writeFileSync(
    systemctl,
    [
      '#!/bin/sh',
      `# pollpray test stub for systemctl, fixture ${id}: records argv, exits with ${exitFile} or 0`,
      `printf '%s\\n' "$*" >> ${shq(callsLog)} || exit 97`,
      `if [ -f ${shq(exitFile)} ]; then exit "$(cat ${shq(exitFile)})"; fi`,
      'exit 0',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  chmodSync(systemctl, 0o755);

  /** Writes the drop-in atomically: temp name sudo ignores (has a dot), visudo -cf, rename. */
  const install = async (nopasswd: boolean, extra: string[] = []): Promise<void> => {
    for (const u of units) if (!UNIT.test(u)) throw new Error(`unit name not allowed in sudoers: ${u}`);
    const commands = verbs.flatMap((v) => units.map((u) => `${systemctl} ${v} ${u}`));
    const text = (commands.length
      ? `# pollpray test fixture ${id}\n${TEST_USER} ALL=(root) ${nopasswd ? 'NOPASSWD: ' : ''}${commands.join(', ')}\n`
      : `# pollpray test fixture ${id}: no commands\n`) + extra.map((l) => `${l}\n`).join('');
    const tmp = join(SUDOERS_DIR, `.${TEST_USER}-${id}.tmp`);
    writeFileSync(tmp, text, { mode: 0o440 });
    chmodSync(tmp, 0o440);
    const check = await execa('visudo', ['-cf', tmp], { reject: false });
    if (check.exitCode !== 0) {
      rmSync(tmp, { force: true });
      throw new Error(`visudo rejected the drop-in:\n${text}\n${check.stdout}${check.stderr}`);
    }
    renameSync(tmp, dropIn);
  };

  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    rmSync(dropIn, { force: true });
    rmSync(callsLog, { force: true });
    rmSync(stubDir, { recursive: true, force: true });
  };
  onTestFinishedIfInTest(cleanup);

  const path = [dirname(process.execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':');

  const fixture: SudoFixture = {
    user: TEST_USER,
    uid: account.uid,
    gid: account.gid,
    home: account.home,
    id,
    systemctl,
    callsLog,
    dropIn,
    async calls() {
      const text = await readFile(callsLog, 'utf8');
      return text.split('\n').filter((l) => l !== '');
    },
    async setUnits(next, nextVerbs = verbs) {
      units = [...next];
      verbs = [...nextVerbs];
      await install(true);
    },
    async removeRule() {
      rmSync(dropIn, { force: true });
    },
    async ruleWithoutNopasswd() {
      await install(false);
    },
    async requireTty() {
      await install(true, [`Defaults!${systemctl} requiretty`]);
    },
    setStubExit(code) {
      writeFileSync(exitFile, `${code}\n`, { mode: 0o644 });
    },
    async giveToUser(target) {
      await execa('chown', ['-R', `${account.uid}:${account.gid}`, target]);
    },
    async runAs(argv, o = {}) {
      const [file, ...args] = argv;
      if (file === undefined) throw new Error('runAs needs a command');
      const started = Date.now();
      const r = await execa(file, args, {
        uid: account.uid,
        gid: account.gid,
        cwd: o.cwd ?? account.home,
        env: { HOME: account.home, USER: TEST_USER, LOGNAME: TEST_USER, SHELL: '/bin/bash', PATH: path, LANG: 'C.UTF-8', ...o.env },
        extendEnv: false,
        reject: false,
        timeout: o.timeoutMs ?? 20_000,
        ...(o.input === undefined ? { stdin: 'ignore' as const } : { input: o.input }),
      });
      return {
        exitCode: r.exitCode ?? -1,
        stdout: r.stdout,
        stderr: r.stderr,
        durationMs: Date.now() - started,
        timedOut: r.timedOut,
      };
    },
    cleanup,
  };

  try {
    await install(true);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return fixture;
}

/**
 * Removes drop-in, stub and log of fixtures whose process is gone (a crashed or SIGKILLed
 * worker never ran its cleanup). Ids start with the creating PID; a live PID is left alone.
 */
function sweepStale(): void {
  if (!existsSync(STUB_ROOT)) return;
  for (const id of readdirSync(STUB_ROOT)) {
    const pid = Number(id.split('-')[0]);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      process.kill(pid, 0);
      continue; // alive (or reused): not ours to judge
    } catch {
      // gone
    }
    rmSync(join(SUDOERS_DIR, `${TEST_USER}-${id}`), { force: true });
    rmSync(join(CALLS_ROOT, `${id}.log`), { force: true });
    rmSync(join(STUB_ROOT, id), { recursive: true, force: true });
  }
}
