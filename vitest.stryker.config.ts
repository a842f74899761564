import { defineConfig } from 'vitest/config';

// The tests StrykerJS runs against each mutant (stryker.config.mjs). Only the unit tier:
// Stryker instruments src/ in place and the mutants live in vitest's module graph, while
// every e2e and fault test runs the built CLI (dist/, compiled from the unmutated
// source) in a child process, so it could not see a mutant and would only cost time.
// Unit tests that need a real process start one themselves (kill-group: real groups).
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', '**/.git/**'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
