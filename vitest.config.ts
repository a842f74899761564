import { defineConfig } from 'vitest/config';

// Every e2e helper (makeOrigin, startSshd, makeSudoFixture) owns its temp dirs, ports,
// sudoers drop-in and calls log, so test files run in parallel without serialization.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', '**/.git/**', '**/.stryker-tmp/**'],
    // forks, not threads: helpers spawn sshd/sudo children and use process.on('exit').
    pool: 'forks',
    // vitest's default on 2 cores is one worker, which ran the files one after another
    // (~550 s). The e2e files mostly wait on git, sshd and scripts, so two in flight
    // keep both cores busy; the suite's own ports and dirs are per test.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The JSON report is what .ci/run turns into its closing "tests: N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
  },
});
