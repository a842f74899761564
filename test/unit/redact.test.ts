import { describe, expect, it } from 'vitest';
import { addSecrets, lineRedactor, redact, redactDeep } from '../../src/log/redact.js';

describe('redact', () => {
  it.each([
    ['https://deploy:s3cretPassw0rd@git.example.com/acme/app.git', 's3cretPassw0rd', 'https://deploy:***@git.example.com'],
    ['https://x-access-token:ghs_abcdefghijklmnopqrstuvwxyz0123456789@github.com/a/b', 'ghs_abcdefghijklmnopqrstuvwxyz0123456789', 'github.com/a/b'],
    ['token ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'leaked'],
    ['github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz', 'github_pat_11ABCDEFG0123456789', ''],
    ['glpat-abcdefghij0123456789xyz', 'glpat-abcdefghij0123456789xyz', ''],
    ['AWS AKIAIOSFODNN7EXAMPLE key', 'AKIAIOSFODNN7EXAMPLE', 'AWS'],
    ['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc', 'eyJhbGciOiJIUzI1NiJ9', 'Authorization: Bearer'],
    ['-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----', 'b3BlbnNzaC1rZXktdjEAAAAA', '[REDACTED PRIVATE KEY]'],
  ])('%s', (input, secret, kept) => {
    const out = redact(input);
    expect(out).not.toContain(secret);
    expect(out).toContain(kept);
  });

  it('leaves ordinary text and commit ids alone', () => {
    const line = 'deployed 0123456789abcdef0123456789abcdef01234567 to /var/www/app (git@github.com:acme/app.git)';
    expect(redact(line)).toBe(line);
  });

  it('removes values registered as secrets', () => {
    addSecrets(['hunter2-database-password']);
    expect(redact('DATABASE_PASSWORD=hunter2-database-password')).toBe('DATABASE_PASSWORD=[REDACTED]');
  });
});

describe('lineRedactor (output that arrives line by line)', () => {
  it('hides every line of a private key block, and only those', () => {
    const redactLine = lineRedactor();
    const lines = ['before', '-----BEGIN OPENSSH PRIVATE KEY-----', 'b3BlbnNzaC1rZXktdjEAAAAA', 'QyNTUxOQAAACDx', '-----END OPENSSH PRIVATE KEY-----', 'after ghp_abcdefghijklmnopqrstuvwxyz0123456789'];
    const out = lines.map(redactLine).join('\n');
    expect(out).not.toMatch(/b3BlbnNz|QyNTUxOQ|ghp_/);
    expect(out.split('\n')[0]).toBe('before');
    expect(out.split('\n')[5]).toBe('after [REDACTED]');
  });
});

describe('redactDeep', () => {
  it('redacts every string in nested objects and arrays, leaving other values', () => {
    const value = { a: 'https://u:pw12345@h/x', b: [1, 'AKIAIOSFODNN7EXAMPLE'], c: { d: null, e: true } };
    expect(redactDeep(value)).toEqual({ a: 'https://u:***@h/x', b: [1, '[REDACTED]'], c: { d: null, e: true } });
  });
});

describe('control characters (commit subjects and script output are written by whoever can push)', () => {
  it.each([
    ['an OSC title and a CSI clear', 'x\u001b]0;owned\u0007\u001b[2Jy', 'x^[]0;owned^G^[[2Jy'],
    ['a carriage return that would overwrite the line', 'deploy ok\rdeploy FAILED', 'deploy ok^Mdeploy FAILED'],
    ['a one-byte C1 CSI and DEL', 'a\u009b31mb\u007f', 'aM-^[31mb^?'],
    ['a bidirectional override', 'fix \u202Egnp.exe', 'fix <U+202E>gnp.exe'],
    ['newline and tab, which stay', 'a\tb\nc', 'a\tb\nc'],
    ['plain UTF-8, which stays', 'déployé ✓', 'déployé ✓'],
  ])('%s', (_name, input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it('a secret split by an escape sequence is not joined back together', () => {
    addSecrets(['joinme-secret-77']);
    expect(redact('joinme-\u001b[0msecret-77')).not.toContain('joinme-secret-77');
    expect(redact('x joinme-secret-77\u001b[0m')).toBe('x [REDACTED]^[[0m');
  });

  it('captured output keeps them for its parser (git log --format=%G?%x00%GK), redacted all the same', () => {
    const redactLine = lineRedactor();
    expect(redactLine('G\u0000SHA256:abc\u0000ghp_abcdefghijklmnopqrstuvwxyz0123456789')).toBe('G\u0000SHA256:abc\u0000[REDACTED]');
  });

  it('applies to every string redactDeep writes (state, history, notifications)', () => {
    expect(redactDeep({ subject: 'a\u001b[31mb', list: ['\u0007'] })).toEqual({ subject: 'a^[[31mb', list: ['^G'] });
  });
});
