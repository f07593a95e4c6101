/**
 * Retention of sweep runs and findings, pure: which runs a completed sweep may delete. A run is deleted only once it
 * has ended (completed or failed) and started before the cutoff, and never when it is a run to keep (the sweep doing
 * the cleanup, the newest completed run that GET /api/compliance serves).
 */
export const DEFAULT_RETENTION_DAYS = 90;

const DAY_MS = 86_400_000;

/** Runs that started before this instant are expired. */
export function retentionCutoff(now: Date, days: number): Date {
  return new Date(now.getTime() - days * DAY_MS);
}

export function mayDeleteRun(
  run: { sweepId: string; status: string; startedAt: string },
  cutoff: Date,
  keep: ReadonlySet<string>,
): boolean {
  if (run.status !== 'completed' && run.status !== 'failed') return false;
  if (keep.has(run.sweepId)) return false;
  const started = Date.parse(run.startedAt);
  return Number.isFinite(started) && started < cutoff.getTime();
}
