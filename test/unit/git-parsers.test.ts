import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { userName } from '../../src/host/users.js';
import { classifyGitFailure, parseLsRemote } from '../../src/git/errors.js';
import { shellQuote } from '../../src/git/ssh.js';

describe('parseLsRemote', () => {
  it('maps refs to full commit ids and ignores noise', () => {
    const sha = '0123456789abcdef0123456789abcdef01234567';
    const refs = parseLsRemote(`${sha}\trefs/heads/main\nwarning: something\n\n`);
    expect(refs.get('refs/heads/main')).toBe(sha);
    expect(refs.size).toBe(1);
  });
});

describe('classifyGitFailure', () => {
  it.each([
    ['Permission denied (publickey).', /authentication refused/],
    ['Host key verification failed.', /host key unknown/],
    ['@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n', /HOST KEY CHANGED/],
    ['ssh: connect to host 127.0.0.1 port 1: Connection refused', /connection refused by 127\.0\.0\.1 port 1/],
    ['ssh: Could not resolve hostname github.com-repo-todo: Name or service not known', /host unreachable: cannot resolve host name github\.com-repo-todo/],
    ['ssh: connect to host 10.0.0.1 port 22: Connection timed out', /timed out/],
    ["fatal: '/srv/x.git' does not appear to be a git repository", /repository not found/],
    ['Load key "/k": bad permissions', /deploy key unusable/],
    ['No user exists for uid 54321\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.', /ssh cannot run as uid 54321: no user of that uid exists/],
    ['fatal: something new', /ls-remote failed: fatal: something new/],
  ])('%s', (stderr, message) => {
    const err = classifyGitFailure(stderr, 'app', 'git@example:acme/app.git', 'ls-remote');
    expect(err.message).toMatch(message);
    expect(err.target).toBe('app');
    expect(err.hint).toBeTruthy();
  });

  it('an unresolvable ssh alias names the host and points at ssh.config', () => {
    const err = classifyGitFailure('ssh: Could not resolve hostname github.com-repo-todo: Name or service not known\nfatal: Could not read from remote repository.', 'app', 'git@github.com-repo-todo:acme/app.git', 'ls-remote');
    expect(err.oneLine()).toMatch(/^app: host unreachable: cannot resolve host name github\.com-repo-todo \(fix: .*ssh alias.*ssh\.config/);
  });

  it('local permission and disk problems are host faults naming the directory, never "run pollpray test-ssh"', () => {
    for (const stderr of [
      "fatal: could not create work tree dir '/srv/www/app': Permission denied",
      'error: unable to create temporary file: No space left on device',
      "fatal: could not create leading directories of '/ro/app': Read-only file system",
    ]) {
      const err = classifyGitFailure(stderr, 'app', 'git@example:acme/app.git', 'clone', '/srv/www');
      expect(err.fault, stderr).toBe('host');
      expect(err.oneLine(), stderr).not.toMatch(/test-ssh|bug in pollpray/);
      expect(err.oneLine(), stderr).toMatch(/\((EACCES|ENOSPC|EROFS)\)/);
    }
  });

  it('an https timeout or a local origin is not sent to test-ssh', () => {
    const https = classifyGitFailure("fatal: unable to access 'https://git.example.com/app.git/': Failed to connect to git.example.com port 443 after 130000 ms: Connection timed out", 'app', 'https://git.example.com/app.git', 'ls-remote');
    expect(https.oneLine()).toMatch(/connection to git\.example\.com timed out/);
    expect(https.oneLine()).not.toMatch(/test-ssh|ssh\.connect_timeout/);
    const local = classifyGitFailure('fatal: something new', 'app', 'file:///srv/git/app.git', 'ls-remote');
    expect(local.oneLine()).not.toMatch(/test-ssh/);
  });

  it('a repository owned by another user is a wrong-user error with the owner, not corruption', () => {
    // As root: a directory handed to nobody (65534); as anyone else: "/", which is root's.
    const root = process.getuid?.() === 0;
    const dir = root ? mkdtempSync(join(tmpdir(), 'pp-dubious-')) : '/';
    if (root) {
      chownSync(dir, 65534, 65534);
      onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    }
    const err = classifyGitFailure(`fatal: detected dubious ownership in repository at '${dir}'\nTo add an exception for this directory, call:`, 'app', `file://${dir}`, 'ls-remote');
    expect(err.exitCode).toBe(3);
    expect(err.fault).toBe('host');
    expect(err.oneLine()).toMatch(new RegExp(`^app: git refuses ${dir} .*owned by ${userName(root ? 65534 : 0)}, not .* \\(fix: .*sudo`));
  });
});

describe('shellQuote', () => {
  it('quotes anything a shell would interpret', () => {
    expect(shellQuote('/etc/pollpray/keys/app_ed25519')).toBe('/etc/pollpray/keys/app_ed25519');
    expect(shellQuote("/tmp/a b'$(id)")).toBe(`'/tmp/a b'\\''$(id)'`);
  });
});
