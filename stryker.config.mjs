// Mutation testing of the code that decides, guards or trusts (issue 18):
//   npm run test:mutation                                    all of MUTATE below
//   npm run test:mutation -- --mutate src/deploy/decide.ts   one file (comma-separate more)
// Not part of npm test. Reports: reports/mutation/mutation.{json,html} (gitignored).
// The score is recorded in bench/README.md with date and commit.

/** The files issue 18 names. */
const MUTATE = [
  'src/deploy/decide.ts',
  'src/deploy/policy.ts',
  'src/deploy/template.ts',
  'src/deploy/releases.ts',
  'src/deploy/go-live.ts',
  'src/state/**/*.ts',
  'src/serve/**/*.ts',
  'src/log/redact.ts',
  'src/git/ref-name.ts',
  'src/git/verify.ts',
  'src/exec/groups.ts',
  'src/config/rules.ts',
  'src/config/symlink-rules.ts',
  'src/coordination/gate.ts',
];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.stryker.config.ts' },
  mutate: MUTATE,
  // Only the tests that cover a mutant run against it.
  coverageAnalysis: 'perTest',
  // A 2-core machine: one mutant per core. Override with --concurrency 1 on a shared box.
  concurrency: 2,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  tempDirName: '.stryker-tmp',
  // The sandbox needs the sources and the tests, not the build or earlier reports.
  ignorePatterns: ['dist', 'reports', 'coverage', '.vitest-results.json'],
  // Real processes and temp git repos: a mutant that hangs a test is a timeout (counted as killed).
  timeoutMS: 10_000,
  cleanTempDir: 'always',
};
