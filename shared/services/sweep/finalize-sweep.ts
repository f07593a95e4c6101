/**
 * The sweep's last step: once every shard is done, sum the shard rows into the run's summary and complete the run;
 * when modules were staged for a bulk import, start the import job instead and complete the run when the job ends
 * (pollImportJob). A completed run whose retention cleanup is still pending continues it here (applyRetention).
 */
import { addCounters, emptyCounters } from '../../domain/sweep-summary';
import { isJobQuotaExceeded } from '../../errors';
import type { SweepRun } from '../../ports/sweep-store';
import { applyRetention } from './apply-retention';
import { completeRun } from './complete-run';
import type { MessageOutcome } from './message-outcome';
import { IMPORT_POLL_SECONDS } from './poll-import-job';
import { summaryOf } from './summary-of';
import type { SweepServices } from './sweep-services';
import { timeBudget } from './time-budget';

export async function finalizeSweep(
  sweepId: string,
  services: SweepServices,
  startedMs: number = services.now().getTime(),
): Promise<MessageOutcome> {
  const budget = timeBudget(services, startedMs);
  const stored = await services.sweeps.getRun(sweepId);
  if (!stored) return 'ignored';
  if (stored.value.status === 'completed' && stored.value.retention?.status === 'pending') return applyRetention(stored, services, budget);
  if (stored.value.status !== 'running' || !stored.value.plan) return 'ignored';
  const shards = await services.sweeps.listShards(sweepId);
  if (shards.length < stored.value.plan.shards || shards.some((shard) => shard.status !== 'done')) return 'ignored';
  const counters = shards.reduce((sum, shard) => addCounters(sum, shard.counters), emptyCounters());
  const run = stored.value;
  if (run.plan?.bulkImport && services.imports && Object.keys(counters.repairs).some((key) => key.endsWith(':queuedForImport'))) {
    let started: { jobId: string; staged: number };
    try {
      started = await services.imports.start(sweepId);
    } catch (error) {
      // A registration storm's import job (or an operator's) holds the hub's one import/export slot: try again later.
      if (!isJobQuotaExceeded(error)) throw error;
      services.logger.info('sweep import job waits: another import/export job holds the hub', { sweepId });
      await services.queue.send({ kind: 'finalize', sweepId }, services.settings.importPollSeconds ?? IMPORT_POLL_SECONDS);
      return 'importPolled';
    }
    const { jobId, staged } = started;
    const importing: SweepRun = {
      ...run,
      status: 'importing',
      updatedAt: services.now().toISOString(),
      summary: summaryOf(run, counters, services.now(), { jobId, status: 'running', staged, failed: 0 }),
    };
    if ((await services.sweeps.updateRun(importing, stored.etag)) === 'conflict') return 'ignored';
    await services.queue.send({ kind: 'importJob', sweepId, jobId }, services.settings.importPollSeconds ?? IMPORT_POLL_SECONDS);
    return 'finalized';
  }
  return completeRun(stored, summaryOf(run, counters, services.now()), services, budget);
}
