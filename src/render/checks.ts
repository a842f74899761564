/** test-ssh (and doctor) results as text: one line per check, with its fix. */
import type { Check } from '../git/diagnose.js';

const LABEL = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

export function checkLine(target: string, check: Check): string {
  const fix = check.fix ? ` (fix: ${check.fix})` : '';
  return `${target}: ${LABEL[check.status]} ${check.name}: ${check.detail}${fix}`;
}
