import { compliantShare, type SweepCounters } from '../../domain/sweep-summary';
import type { SweepRun, SweepSummary } from '../../ports/sweep-store';

/** The run's summary from its summed counters (and its import job, once one was started). */
export function summaryOf(run: SweepRun, counters: SweepCounters, now: Date, importJob?: SweepSummary['importJob']): SweepSummary {
  const summary: SweepSummary = {
    counters,
    compliantShare: compliantShare(counters),
    durationMs: now.getTime() - Date.parse(run.startedAt),
  };
  if (importJob) summary.importJob = importJob;
  return summary;
}
