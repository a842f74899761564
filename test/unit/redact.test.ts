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

/**
 * Each shape exactly as a reader sees it: what is hidden, and that the text around it
 * survives (a rule that over-reaches hides the line that says what went wrong).
 */
describe('secret shapes, exact output', () => {
  const TOKEN = 'abcdefghij0123456789ABCDEFGHIJ';
  it.each([
    ['token-only userinfo over https', `fetch https://${TOKEN}@git.example.com/a.git`, 'fetch https://***@git.example.com/a.git'],
    ['token-only userinfo over plain http', `fetch http://${TOKEN}@git.example.com/a.git`, 'fetch http://***@git.example.com/a.git'],
    ['a short user name is not a token', 'ssh://git@example.com/a.git and https://deploy@example.com/', 'ssh://git@example.com/a.git and https://deploy@example.com/'],
    ['a password without a user name (redis://:password@host)', 'redis://:hunter2pw@127.0.0.1:6379/0', 'redis://:***@127.0.0.1:6379/0'],
    ['a password with an unescaped @ in it, hidden to the last @', 'https://deploy:p@ss@w0rd@git.example.com/a@b.git', 'https://deploy:***@git.example.com/a@b.git'],
    ['a user and password in a git+ssh URL', 'git+ssh://bob:pa:ss@host/x', 'git+ssh://bob:***@host/x'],
    ['a Bearer token with padding, whole', 'Authorization: Bearer abcdEFGH1234-._~+/xyz== next', 'Authorization: Bearer [REDACTED] next'],
    ['a RemoteAuth token (git-lfs-authenticate\'s answer)', '{"header":{"Authorization":"RemoteAuth abcdEFGH1234abcdEFGH"}}', '{"header":{"Authorization":"RemoteAuth [REDACTED]"}}'],
    ['a Bearer token after several spaces', 'Authorization: Bearer    abcdEFGH1234abcdEFGH', 'Authorization: Bearer [REDACTED]'],
    ['"token" in any case', 'TOKEN abcdEFGH1234abcdEFGH', 'TOKEN [REDACTED]'],
    ['a token word with a short value is not a token', 'token expired at 12:00', 'token expired at 12:00'],
    ['an AWS session key', 'key ASIAIOSFODNN7EXAMPLE.', 'key [REDACTED].'],
    ['each GitHub token prefix', 'gho_abcdefghijklmnopqrstuvwxyz012345 ghu_abcdefghijklmnopqrstuvwxyz012345 ghr_abcdefghijklmnopqrstuvwxyz012345', '[REDACTED] [REDACTED] [REDACTED]'],
    ['a fine-grained GitHub token', 'GH=github_pat_11ABCDEFG0123456789_abcdefghij;', 'GH=[REDACTED];'],
    ['a GitLab token with dashes and underscores', 'glpat-abc_def-ghi_jkl-mnop0123 ok', '[REDACTED] ok'],
    ['URL credentials glued to a digit before the scheme', 'rc=1https://deploy:s3cretpw@git.example.com/a.git', 'rc=1https://deploy:***@git.example.com/a.git'],
    ['URL credentials glued to an underscore or letter', 'x_https://deploy:s3cretpw@h/a xredis://:hunter2pw@h/0', 'x_https://deploy:***@h/a xredis://:***@h/0'],
    ['a token-only userinfo glued to a word', `url=_https://${TOKEN}@git.example.com/a.git`, 'url=_https://***@git.example.com/a.git'],
    ['any RFC 3986 scheme: a letter, then letters, digits, +, - and .', 'x-1.2://u:pw1@h/ ab12+://u:pw2@h/', 'x-1.2://u:***@h/ ab12+://u:***@h/'],
    ['a word ending in a scheme name without credentials stays', 'xhttps://example.com/a and 1http://deploy@h/', 'xhttps://example.com/a and 1http://deploy@h/'],
    ['query-string tokens: the value only, up to &, #, a space or a quote', `GET https://h/api?access_token=abc123&page=2 '/x?private_token=glp1#top' "/y?token=t0k"`, `GET https://h/api?access_token=***&page=2 '/x?private_token=***#top' "/y?token=***"`],
    ['query-string secrets in any case: API keys, client secrets, passwords, signatures', '?api_key=k1&apikey=k2&client_secret=c3&PASSWORD=p4&sig=s5&Signature=s6 next', '?api_key=***&apikey=***&client_secret=***&PASSWORD=***&sig=***&Signature=*** next'],
    ['an AWS presigned URL: signature and session token', 'https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Security-Token=IQoJb3JpZ2lu%2Fxyz&X-Amz-Signature=fe5f80f77d5fa3be', 'https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Security-Token=***&X-Amz-Signature=***'],
    ['ordinary query parameters, and token words outside a query, stay', 'https://h/x?ref=main&key=id&tokens=3&a_sig=1 token=abc page?token', 'https://h/x?ref=main&key=id&tokens=3&a_sig=1 token=abc page?token'],
  ])('%s', (_name, input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it('a private key block is hidden from BEGIN to END, and only that: text after it and between two blocks stays', () => {
    const key = (kind: string, body: string) => `-----BEGIN ${kind}PRIVATE KEY-----\n${body}\n-----END ${kind}PRIVATE KEY-----`;
    const text = `before\n${key('RSA ', 'MIIEowIBAAKCAQEA')}\nbetween\n${key('', 'MC4CAQAwBQYDK2Vw')}\nafter`;
    expect(redact(text)).toBe('before\n[REDACTED PRIVATE KEY]\nbetween\n[REDACTED PRIVATE KEY]\nafter');
  });

  it('a private key block cut off before its END is hidden to the end of the text', () => {
    expect(redact('cat key:\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\nabc')).toBe('cat key:\n[REDACTED PRIVATE KEY]');
  });
});

describe('control characters, at every edge of the ranges', () => {
  it.each([
    ['\u0000', '^@'],
    ['\u0008', '^H'],
    ['\u000b', '^K'],
    ['\u001f', '^_'],
    ['\u007f', '^?'],
    ['\u0080', 'M-^@'],
    ['\u009f', 'M-^_'],
    ['\u202a', '<U+202A>'],
    ['\u202e', '<U+202E>'],
    ['\u2066', '<U+2066>'],
    ['\u2069', '<U+2069>'],
  ])('%j is shown as %s', (c, shown) => {
    expect(redact(`a${c}b`)).toBe(`a${shown}b`);
  });

  it.each([[' '], ['~'], ['\u00a0'], ['é'], ['\u2029'], ['\u202f'], ['\u2065'], ['\u206a']])('%j stays as it is', (c) => {
    expect(redact(`a${c}b`)).toBe(`a${c}b`);
  });
});

describe('registered secrets', () => {
  it('a value of four characters or more is hidden; a shorter one would hide ordinary words, so it is not registered', () => {
    addSecrets(['Qx7!', 'zz9']);
    expect(redact('pin Qx7! and buzz9 stay apart')).toBe('pin [REDACTED] and buzz9 stay apart');
  });

  it('a secret that contains another is hidden whole, whichever was registered first', () => {
    addSecrets(['pw-inner']);
    addSecrets(['outer-pw-inner-long']);
    expect(redact('DATABASE_URL=outer-pw-inner-long')).toBe('DATABASE_URL=[REDACTED]');
    addSecrets(['wrap-abc-shortfirst-xyz', 'abc-shortfirst']);
    expect(redact('v=wrap-abc-shortfirst-xyz')).toBe('v=[REDACTED]');
  });
});

describe('lineRedactor edges', () => {
  it('text on the END line after the block is kept, and everything before END on that line hidden', () => {
    const redactLine = lineRedactor();
    expect(['-----BEGIN OPENSSH PRIVATE KEY-----', 'b3Bl', 'QyNT UxOQ-----END OPENSSH PRIVATE KEY----- done ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'next'].map(redactLine)).toEqual([
      '[REDACTED PRIVATE KEY]',
      '[REDACTED PRIVATE KEY]',
      '[REDACTED PRIVATE KEY] done [REDACTED]',
      'next',
    ]);
  });

  it('a whole block on one line does not hide the lines after it', () => {
    const redactLine = lineRedactor();
    expect(['x -----BEGIN RSA PRIVATE KEY----- MIIE -----END RSA PRIVATE KEY----- y', 'next'].map(redactLine)).toEqual(['x [REDACTED PRIVATE KEY] y', 'next']);
  });

  it('an END before a BEGIN on one line still opens a block', () => {
    const redactLine = lineRedactor();
    expect(['-----END RSA PRIVATE KEY----- -----BEGIN RSA PRIVATE KEY-----', 'MIIEowIBAAKCAQEA', '-----END RSA PRIVATE KEY-----', 'after'].map(redactLine)).toEqual([
      '-----END RSA PRIVATE KEY----- [REDACTED PRIVATE KEY]',
      '[REDACTED PRIVATE KEY]',
      '[REDACTED PRIVATE KEY]',
      'after',
    ]);
  });

  it('each stream has its own state: a block open in one does not hide another', () => {
    const a = lineRedactor();
    const b = lineRedactor();
    a('-----BEGIN OPENSSH PRIVATE KEY-----');
    expect(b('plain')).toBe('plain');
    expect(a('b3Bl')).toBe('[REDACTED PRIVATE KEY]');
  });
});

describe('time on long lines (script output and subjects come from whoever pushes)', () => {
  it('a 1 MiB line of one word, of URLs or of schemes is redacted in well under a second, and still redacted', () => {
    const lines = ['x'.repeat(1 << 20), `${'ab1+.-'.repeat(1 << 17)}://u:p4ssw0rd@h/`, 'a://'.repeat(1 << 18), `${'a'.repeat(1 << 19)}:${'b'.repeat(1 << 19)}`];
    for (const line of lines) {
      const t0 = Date.now();
      const out = redact(line);
      expect(Date.now() - t0, line.slice(0, 20)).toBeLessThan(1000);
      expect(out).not.toContain('p4ssw0rd');
    }
    expect(redact(`${'ab1+.-'.repeat(1 << 17)}://u:p4ssw0rd@h/`).endsWith('://u:***@h/')).toBe(true);
  });
});
