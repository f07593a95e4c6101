/**
 * Retention (COMPLIANCE_RETENTION_DAYS), run by the sweep itself once a run completes: every run that ended
 * (completed or failed) before the cutoff is deleted with its shard rows, recent-runs index row and findings
 * partitions — never a run in progress, the run doing the cleanup or the newest completed run. Deletion goes in
 * bounded batches (`deleteRun(run, maxRows)`, findings first, the run row last), the step stops once its time
 * budget is spent and re-enqueues `finalize`, whose next delivery continues (`retention.status` stays `pending`
 * until nothing expired is left). Idempotent: a batch redone after a crash deletes what is still there.
 */
import { mayDeleteRun } from '../../domain/sweep-retention';
import type { RetentionProgress, Stored, SweepRun } from '../../ports/sweep-store';
import type { MessageOutcome } from './message-outcome';
import type { SweepServices } from './sweep-services';
import type { TimeBudget } from './time-budget';

const DEFAULT_BATCH_ROWS = 1_000;
/** Expired runs read per listing; deleted ones drop out of the next listing, so no cursor is kept. */
const LIST_LIMIT = 10;

export async function applyRetention(stored: Stored<SweepRun>, services: SweepServices, budget: TimeBudget): Promise<MessageOutcome> {
  const run = stored.value;
  const progress = run.retention as RetentionProgress;
  const cutoff = new Date(progress.cutoff);
  const keep = new Set([run.sweepId, ...(await services.sweeps.listRecentRuns(1)).map((recent) => recent.sweepId)]);
  const batchRows = services.settings.retentionBatchRows ?? DEFAULT_BATCH_ROWS;
  let runsDeleted = 0;
  let rowsDeleted = 0;
  let batches = 0;
  let outOfTime = false;
  listing: for (;;) {
    const expired = (
      await services.sweeps.listRuns({ statuses: ['completed', 'failed'], startedBefore: progress.cutoff, limit: LIST_LIMIT + keep.size })
    ).filter((candidate) => mayDeleteRun(candidate.value, cutoff, keep));
    if (expired.length === 0) break;
    for (const candidate of expired) {
      for (;;) {
        // At least one batch per invocation, so a budget already spent by the shard that finalized still progresses.
        if (batches > 0 && budget.spent()) {
          outOfTime = true;
          break listing;
        }
        const result = await services.sweeps.deleteRun(candidate.value, batchRows);
        batches += 1;
        rowsDeleted += result.rowsDeleted;
        if (result.done) {
          runsDeleted += 1;
          break;
        }
      }
    }
  }
  const next: RetentionProgress = {
    ...progress,
    status: outOfTime ? 'pending' : 'done',
    runsDeleted: progress.runsDeleted + runsDeleted,
    rowsDeleted: progress.rowsDeleted + rowsDeleted,
  };
  const written = await services.sweeps.updateRun({ ...run, retention: next }, stored.etag);
  if (runsDeleted > 0 || rowsDeleted > 0)
    services.logger.info('sweep retention deleted expired runs', {
      sweepId: run.sweepId,
      runsDeleted,
      rowsDeleted,
      cutoff: progress.cutoff,
    });
  if (!outOfTime) return 'finalized';
  // A conflict means another delivery of finalize is on it (it re-enqueues itself if it runs out of time too).
  if (written === 'written') await services.queue.send({ kind: 'finalize', sweepId: run.sweepId });
  return 'retentionYielded';
}
