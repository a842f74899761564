import { describe, expect, it } from 'vitest';
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
    ['ssh: connect to host 127.0.0.1 port 1: Connection refused', /connection refused/],
    ['ssh: connect to host 10.0.0.1 port 22: Connection timed out', /timed out/],
    ["fatal: '/srv/x.git' does not appear to be a git repository", /repository not found/],
    ['Load key "/k": bad permissions', /deploy key unusable/],
    ['fatal: something new', /ls-remote failed: fatal: something new/],
  ])('%s', (stderr, message) => {
    const err = classifyGitFailure(stderr, 'app', 'git@example:acme/app.git', 'ls-remote');
    expect(err.message).toMatch(message);
    expect(err.target).toBe('app');
    expect(err.hint).toBeTruthy();
  });
});

describe('shellQuote', () => {
  it('quotes anything a shell would interpret', () => {
    expect(shellQuote('/etc/pollpray/keys/app_ed25519')).toBe('/etc/pollpray/keys/app_ed25519');
    expect(shellQuote("/tmp/a b'$(id)")).toBe(`'/tmp/a b'\\''$(id)'`);
  });
});
