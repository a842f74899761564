import type { DoctorReport } from '../commands/doctor.js';

const LABEL = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;

/** One line per check: status, what, and for anything not ok the fix. */
export function doctorLines(report: DoctorReport): string[] {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  return report.checks.map((c) => `${LABEL[c.status]}  ${c.name.padEnd(width)}  ${c.detail}${c.fix && c.status !== 'ok' ? ` (fix: ${c.fix})` : ''}`);
}
