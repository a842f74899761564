import type { Config } from '../config/normalise.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of `pollpray doctor`: what was checked, how it stands, and (unless ok) the fix. */
export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface DoctorContext {
  config: Config;
  uid: number;
  user: string;
}

/** A check may report several lines (one per target, key or filesystem), or none when it does not apply. */
export type Check = (ctx: DoctorContext) => Promise<CheckResult[]>;
