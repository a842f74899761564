import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';

// `pollpray --version` is answered by bin/pollpray.js from package.json (no ES module
// loader), while the built CLI reports src/version.ts (`status --json`, logs, --help):
// the two must never tell different versions.
describe('the version', () => {
  const pkg = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

  it('src/version.ts says what package.json says', () => {
    expect(VERSION).toBe(pkg);
  });

  it('bin/pollpray.js --version and -V print it', () => {
    const bin = new URL('../../bin/pollpray.js', import.meta.url).pathname;
    for (const flag of ['--version', '-V']) {
      expect(execFileSync(process.execPath, [bin, flag], { encoding: 'utf8', cwd: '/tmp' })).toBe(`${pkg}\n`);
    }
  });
});
