/**
 * .ci/run's closing line: what a CI log reader sees last must never say "0 failed" about
 * a run that failed. The reports below have the shape vitest 4's JSON reporter writes
 * (taken from real runs of a file that throws at collection, one whose afterAll throws,
 * one with a failing test, and one with an unhandled error after passing tests).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { summaryLine } from '../../.ci/summary.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const SCRIPT = join(ROOT, '.ci/summary.mjs');

type Status = 'passed' | 'failed' | 'skipped';
const file = (name: string, status: 'passed' | 'failed', tests: Status[], message = '') => ({
  name: join(ROOT, name),
  status,
  message,
  assertionResults: tests.map((s, i) => ({ title: `t${i}`, status: s, failureMessages: [] })),
});

function report(files: ReturnType<typeof file>[]) {
  const all = files.flatMap((f) => f.assertionResults);
  const count = (s: Status) => all.filter((a) => a.status === s).length;
  return {
    numTotalTestSuites: files.length,
    numFailedTestSuites: files.filter((f) => f.status === 'failed').length,
    numTotalTests: all.length,
    numPassedTests: count('passed'),
    numFailedTests: count('failed'),
    numPendingTests: count('skipped'),
    numTodoTests: 0,
    success: files.every((f) => f.status === 'passed'),
    testResults: files,
  };
}

const line = (r: unknown, status: number): string => summaryLine(r, status, ROOT) as string;

describe('the closing line of .ci/run', () => {
  it('a green run says so', () => {
    expect(line(report([file('test/unit/a.test.ts', 'passed', ['passed', 'passed', 'skipped'])]), 0)).toBe('tests: 2 passed, 0 failed, 1 skipped');
  });

  it('failed tests are counted', () => {
    expect(line(report([file('test/unit/a.test.ts', 'failed', ['passed', 'failed', 'failed'])]), 1)).toBe('tests: 1 passed, 2 failed');
  });

  it('a file that fails at collection counts as a failure and is named', () => {
    const r = report([file('test/unit/broken.test.ts', 'failed', [], 'boom at collection'), file('test/unit/a.test.ts', 'passed', ['passed'])]);
    expect(line(r, 1)).toBe('tests: 1 passed, 1 failed (1 file failed outside a test: test/unit/broken.test.ts)');
  });

  it('a failing hook in a file whose tests passed counts too; a file with failed tests is not counted twice', () => {
    const r = report([
      file('test/e2e/hook.test.ts', 'failed', ['passed'], 'after all'),
      file('test/e2e/mixed.test.ts', 'failed', ['passed', 'failed', 'skipped']),
    ]);
    expect(line(r, 1)).toBe('tests: 2 passed, 2 failed, 1 skipped (1 file failed outside a test: test/e2e/hook.test.ts)');
  });

  it('lists at most five broken files', () => {
    const r = report(Array.from({ length: 7 }, (_, i) => file(`test/e2e/f${i}.test.ts`, 'failed', [])));
    expect(line(r, 1)).toBe(
      'tests: 0 passed, 7 failed (7 files failed outside a test: test/e2e/f0.test.ts, test/e2e/f1.test.ts, test/e2e/f2.test.ts, test/e2e/f3.test.ts, test/e2e/f4.test.ts, and 2 more)',
    );
  });

  it('a failed exit with every test passed (an unhandled error) is not reported as 0 failed', () => {
    expect(line(report([file('test/unit/a.test.ts', 'passed', ['passed', 'passed'])]), 1)).toBe(
      'tests: 2 passed, 1 failed (vitest exited 1 with no failed test: an unhandled error, see above)',
    );
  });

  it('as a script: no report (install or build failed) is a failure, and a report file is read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pollpray-ci-summary-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const run = (...args: string[]) => execFileSync('node', [SCRIPT, ...args], { cwd: ROOT, encoding: 'utf8' }).trim();
    expect(run(join(dir, 'missing.json'), '1')).toBe('tests: 0 passed, 1 failed (no test report: npm ci or the build failed before vitest ran, see above)');
    const written = join(dir, 'report.json');
    writeFileSync(written, JSON.stringify(report([file('test/unit/broken.test.ts', 'failed', [])])));
    expect(run(written, '1')).toBe('tests: 0 passed, 1 failed (1 file failed outside a test: test/unit/broken.test.ts)');
  });

  it('.ci/run is strict whatever CI the environment passes in (an inherited CI=false must not turn fails into skips)', () => {
    const script = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    expect(script).toMatch(/^export CI=true$/m);
    expect(script).not.toMatch(/\$\{CI:?-/);
  });
});
