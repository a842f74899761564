/**
 * The closing line of .ci/run, from vitest's JSON report and the test command's exit status:
 *
 *   tests: N passed, N failed[, N skipped][ (why more failed than tests did)]
 *
 * A file that fails outside any test (an import or a top-level throw at collection, a
 * beforeAll/afterAll hook) has no failed test in numFailedTests, and a run with no
 * report at all (npm ci or the build failed) has no numbers: each counts as one failure
 * here, so the line never says "0 failed" about a run that failed. An exit status that
 * is not 0 with nothing failed (vitest's "Unhandled Errors") counts as one too.
 *
 *   node .ci/summary.mjs <report.json> <exit status>
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const LISTED = 5;

/** `report`: the parsed JSON report, or undefined when there is none. `status`: the test command's exit status. */
export function summaryLine(report, status, cwd = process.cwd()) {
  if (!report || typeof report !== 'object') {
    return 'tests: 0 passed, 1 failed (no test report: npm ci or the build failed before vitest ran, see above)';
  }
  const files = Array.isArray(report.testResults) ? report.testResults : [];
  // A failed file none of whose tests failed failed outside them: count the file itself.
  const brokenFiles = files.filter(
    (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
  );
  const passed = report.numPassedTests ?? 0;
  let failed = (report.numFailedTests ?? 0) + brokenFiles.length;
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  const notes = [];
  if (brokenFiles.length > 0) {
    const names = brokenFiles.slice(0, LISTED).map((f) => relative(cwd, f.name ?? '?'));
    if (brokenFiles.length > LISTED) names.push(`and ${brokenFiles.length - LISTED} more`);
    notes.push(`${brokenFiles.length} ${brokenFiles.length === 1 ? 'file' : 'files'} failed outside a test: ${names.join(', ')}`);
  }
  if (failed === 0 && status !== 0) {
    failed = 1;
    notes.push(`vitest exited ${status} with no failed test: an unhandled error, see above`);
  }
  return `tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}${notes.length ? ` (${notes.join('; ')})` : ''}`;
}

function readReport(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file = '.vitest-results.json', status = '1'] = process.argv.slice(2);
  console.log(summaryLine(readReport(file), Number(status)));
}
