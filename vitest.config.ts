import { defineConfig } from 'vitest/config';

// Every e2e helper (makeOrigin, startSshd, makeSudoFixture) owns its temp dirs, ports,
// sudoers drop-in and calls log, so test files run in parallel without serialization.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', '**/.git/**'],
    // forks, not threads: helpers spawn sshd/sudo children and use process.on('exit').
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The JSON report is what .ci/run turns into its closing "tests: N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
  },
});
