/** GET /api/sweeps?limit=N: recent runs, those in progress or failed as well as completed ones, newest first. */
import type { SweepRun, SweepStore } from '../ports/sweep-store';
import { badRequest, type ApiResult } from './api-result';

export const DEFAULT_SWEEP_LIST_LIMIT = 20;
export const MAX_SWEEP_LIST_LIMIT = 100;

function listed(run: SweepRun): Record<string, unknown> {
  return {
    sweepId: run.sweepId,
    trigger: run.trigger,
    dryRun: run.dryRun,
    status: run.status,
    startedAt: run.startedAt,
    completedAt: run.completedAt ?? null,
    error: run.error ?? null,
    fleetSize: run.plan?.fleetSize ?? null,
    shards: run.plan?.shards ?? null,
    summary: run.summary ?? null,
  };
}

/**
 * Completed runs come from the recent-runs index (newest first, one page); runs not completed from a scan of the run
 * rows (the runs table holds 1 + shards rows per kept run, so the scan is small).
 */
export async function listSweeps(limitText: string | undefined, sweeps: SweepStore): Promise<ApiResult> {
  const limit = limitText === undefined || limitText === '' ? DEFAULT_SWEEP_LIST_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SWEEP_LIST_LIMIT)
    return badRequest(`limit must be an integer from 1 to ${MAX_SWEEP_LIST_LIMIT}`);
  const [completed, others] = await Promise.all([
    sweeps.listRecentRuns(limit),
    sweeps.listRuns({ statuses: ['planning', 'running', 'importing', 'failed'], limit: MAX_SWEEP_LIST_LIMIT }),
  ]);
  const byId = new Map<string, SweepRun>();
  for (const run of [...others.map(({ value }) => value), ...completed]) byId.set(run.sweepId, run);
  const runs = [...byId.values()].sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0)).slice(0, limit);
  return { status: 200, body: { sweeps: runs.map(listed) } };
}
