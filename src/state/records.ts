/**
 * The files pollpray reads back as data, one zod schema each: state.json, the lines of
 * history.jsonl, signals.json and the leftovers record (serve's delivery ids are
 * checked in src/serve/deliveries.ts). Whoever
 * can write the state dir, a bug of an older version or a disk fault can leave any
 * bytes there, so nothing read back is trusted for its types: a file that does not
 * match is moved aside (store.ts), never half-used. A target's name and paths always
 * come from the config, never from these files.
 */
import { z } from 'zod';
import { isFullSha } from '../git/ref-name.js';

export const CYCLE_RESULTS = ['deployed', 'unchanged', 'failed', 'skipped', 'refused', 'error', 'rolled-back', 'unverified'] as const;

/** A full commit id (SHA-1 or SHA-256): these reach git's command line and directory names. */
export const fullShaSchema = z.string().refine(isFullSha, { message: 'must be a full commit id' });
const sha = fullShaSchema;
const time = z.string().max(64);
/** A release directory name: one path component, so it can never lead out of releases/. */
const releaseName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { message: 'must be a release directory name' });

export const commitFailuresSchema = z.object({
  attempts: z.number().int().min(0),
  /** When the last failed attempt started (ISO 8601 UTC). */
  lastAttempt: time,
  lastError: z.string(),
});

export const targetStateSchema = z.object({
  version: z.literal(1),
  target: z.string(),
  branch: z.string(),
  /** The commit the code on disk is at, as far as pollpray knows; null before the first deploy. */
  deployedSha: sha.nullable(),
  previousSha: sha.nullable(),
  /** Last remote head seen by ls-remote. */
  remoteSha: sha.nullable(),
  lastCheck: time.nullable(),
  lastSuccess: time.nullable(),
  lastResult: z.enum(CYCLE_RESULTS).nullable(),
  lastError: z.string().nullable(),
  /** Whose fault the last failed or errored attempt was (errors.ts Fault); `host`: not counted, waits for the fix. */
  lastFault: z.enum(['host', 'commit']).nullable(),
  paused: z.boolean(),
  /** Why the target is paused (e.g. "rolled back by hand to 3f2a9c1b7d0e"), null when not paused. */
  pausedReason: z.string().nullable(),
  /** The last failed deploy went live and was switched back to the previous version. */
  rolledBack: z.boolean(),
  /** Failed attempts per commit (full SHA); a success of that commit clears its entry. */
  failures: z.record(sha, commitFailuresSchema),
  /** releases: the release directory names `current` and the one before point at. */
  currentRelease: releaseName.nullable(),
  previousRelease: releaseName.nullable(),
});

/** What a state file must hold: `version: 1`; a field an older version did not write takes its default. */
export const storedStateSchema = targetStateSchema.partial().required({ version: true });

export const historyEntrySchema = z.object({
  time,
  target: z.string(),
  result: z.enum(CYCLE_RESULTS),
  sha: sha.nullable(),
  previousSha: sha.nullable(),
  durationMs: z.number().min(0),
  subject: z.string().optional(),
  error: z.string().optional(),
  dryRun: z.boolean().optional(),
  rolledBack: z.boolean().optional(),
  release: releaseName.optional(),
});

/** A problem that was notified and not yet followed by a recovery (see src/notify/events.ts). */
export const openProblemSchema = z.object({
  event: z.string(),
  sha: sha.nullable(),
});

export const targetSignalsSchema = z.object({
  version: z.literal(1),
  target: z.string(),
  openProblem: openProblemSchema.nullable(),
  /** Deploy attempts by result, across runs: the metrics counter must never go down. */
  deploys: z.record(z.string(), z.number().int().min(0)),
  lastDeployDurationMs: z.number().min(0).nullable(),
  /** When the outcome recorded last finished (ms since epoch): an older one from an overlapping run is not applied. */
  updatedAt: z.number(),
});

export const storedSignalsSchema = targetSignalsSchema.partial().required({ version: true });

/**
 * A deploy script a run recorded as running (src/exec/leftovers.ts). The group id goes
 * to kill(2) as -pgid: 0 is our own group and 1 is every process, so only real group
 * ids above 1 pass.
 */
export const runningRecordSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{16}$/),
  pgid: z.number().int().min(2).max(2 ** 22).optional(),
  start: z.string().regex(/^\d{1,20}$/).optional(),
});

export type CycleResult = (typeof CYCLE_RESULTS)[number];
export type CommitFailures = z.infer<typeof commitFailuresSchema>;
export type TargetState = z.infer<typeof targetStateSchema>;
export type HistoryEntry = z.infer<typeof historyEntrySchema>;
export type OpenProblem = z.infer<typeof openProblemSchema>;
export type TargetSignals = z.infer<typeof targetSignalsSchema>;
export type RunningRecord = z.infer<typeof runningRecordSchema>;

/** The first problem zod found, in a few words for a log line: `failures: expected record, received null`. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'does not match';
  const where = issue.path.map(String).join('.');
  return `${where ? `${where}: ` : ''}${issue.message}`.slice(0, 200);
}
