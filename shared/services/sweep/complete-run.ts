import { DEFAULT_RETENTION_DAYS, retentionCutoff } from '../../domain/sweep-retention';
import type { Stored, SweepRun, SweepSummary } from '../../ports/sweep-store';
import { applyRetention } from './apply-retention';
import type { MessageOutcome } from './message-outcome';
import type { SweepServices } from './sweep-services';
import type { TimeBudget } from './time-budget';

/**
 * Completes the run with its etag, records it in the recent-runs index, then starts the retention cleanup (pending
 * on the run row until done, so a redelivered or re-enqueued `finalize` continues it).
 */
export async function completeRun(
  stored: Stored<SweepRun>,
  summary: SweepSummary,
  services: SweepServices,
  budget: TimeBudget,
): Promise<MessageOutcome> {
  const now = services.now();
  const completed: SweepRun = {
    ...stored.value,
    status: 'completed',
    completedAt: now.toISOString(),
    updatedAt: now.toISOString(),
    summary,
    retention: {
      status: 'pending',
      cutoff: retentionCutoff(now, services.settings.retentionDays ?? DEFAULT_RETENTION_DAYS).toISOString(),
      runsDeleted: 0,
      rowsDeleted: 0,
    },
  };
  if ((await services.sweeps.updateRun(completed, stored.etag)) === 'conflict') return 'ignored';
  // The index keeps what the API reports of a completed run; the cleanup's own progress lives on the run row only.
  const { retention: _cleanup, ...indexed } = completed;
  await services.sweeps.indexRun(indexed);
  services.logger.info('compliance sweep completed', {
    sweepId: completed.sweepId,
    evaluated: summary.counters.evaluated,
    compliant: summary.counters.compliant,
    // The telemetry's sweep metrics are read off this record (shared/telemetry/metrics-from-log.ts).
    compliantShare: summary.compliantShare,
    durationMs: summary.durationMs,
    throttles: summary.counters.throttles,
    rules: summary.counters.rules,
    repairs: summary.counters.repairs,
  });
  const reread = await services.sweeps.getRun(completed.sweepId);
  if (!reread || reread.value.retention?.status !== 'pending') return 'finalized';
  return applyRetention(reread, services, budget);
}
