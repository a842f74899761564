import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { findBinary, isCI, needs, requireBinary } from '../helpers/require-env.js';

function withCI(value: string | undefined): void {
  vi.stubEnv('CI', value);
  onTestFinished(() => {
    vi.unstubAllEnvs();
  });
}

describe('needs / requireBinary', () => {
  it('an available requirement never skips, in CI or not', () => {
    withCI('true');
    expect(needs('thing', true, 'never shown')).toBe(false);
    expect(requireBinary('sh')).toBe(false);
  });

  it('a missing requirement skips locally', () => {
    withCI(undefined);
    expect(isCI()).toBe(false);
    expect(needs('thing', false, 'self-test of the local skip path')).toBe(true);
  });

  it('a missing requirement throws under CI instead of skipping', () => {
    withCI('true');
    expect(() => requireBinary('pollpray-no-such-binary', 'pollpray-no-such-package')).toThrow(
      /^CI must not skip tests: SKIPPED \(needs pollpray-no-such-binary\): .* install pollpray-no-such-package$/,
    );
  });

  it('CI=false and CI=0 count as local runs', () => {
    for (const v of ['false', '0', '']) {
      withCI(v);
      expect(isCI()).toBe(false);
    }
  });

  it('findBinary looks in sbin dirs even when PATH lacks them', () => {
    vi.stubEnv('PATH', '/usr/bin:/bin');
    onTestFinished(() => {
      vi.unstubAllEnvs();
    });
    expect(findBinary('sshd') ?? findBinary('ldconfig')).toMatch(/^\/(usr\/)?(local\/)?sbin\//);
  });
});
