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
