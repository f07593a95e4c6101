/**
 * The sweep's last step: once every shard is done, sum the shard rows into the run's summary and complete the run;
 * when modules were staged for a bulk import, start the import job instead and complete the run when the job ends
 * (pollImportJob).
 */
import { addCounters, compliantShare, emptyCounters, type SweepCounters } from '../../domain/sweep-summary';
import type { SweepRun } from '../../ports/sweep-store';
import type { MessageOutcome } from './message-outcome';
import type { SweepServices } from './sweep-services';

/** Seconds before an unfinished import job is polled again. */
const IMPORT_POLL_SECONDS = 15;

export async function finalizeSweep(sweepId: string, services: SweepServices): Promise<MessageOutcome> {
  const stored = await services.sweeps.getRun(sweepId);
  if (!stored || stored.value.status !== 'running' || !stored.value.plan) return 'ignored';
  const shards = await services.sweeps.listShards(sweepId);
  if (shards.length < stored.value.plan.shards || shards.some((shard) => shard.status !== 'done')) return 'ignored';
  const counters = shards.reduce((sum, shard) => addCounters(sum, shard.counters), emptyCounters());
  const run = stored.value;
  if (run.plan?.bulkImport && services.imports && Object.keys(counters.repairs).some((key) => key.endsWith(':queuedForImport'))) {
    const { jobId, staged } = await services.imports.start(sweepId);
    const importing: SweepRun = {
      ...run,
      status: 'importing',
      summary: summaryOf(run, counters, services.now(), { jobId, status: 'running', staged, failed: 0 }),
    };
    if ((await services.sweeps.updateRun(importing, stored.etag)) === 'conflict') return 'ignored';
    await services.queue.send({ kind: 'importJob', sweepId, jobId }, services.settings.importPollSeconds ?? IMPORT_POLL_SECONDS);
    return 'finalized';
  }
  const completed: SweepRun = {
    ...run,
    status: 'completed',
    completedAt: services.now().toISOString(),
    summary: summaryOf(run, counters, services.now()),
  };
  if ((await services.sweeps.updateRun(completed, stored.etag)) === 'conflict') return 'ignored';
  await services.sweeps.indexRun(completed);
  services.logger.info('compliance sweep completed', { sweepId, evaluated: counters.evaluated, compliant: counters.compliant });
  return 'finalized';
}

function summaryOf(
  run: SweepRun,
  counters: SweepCounters,
  now: Date,
  importJob?: NonNullable<SweepRun['summary']>['importJob'],
): NonNullable<SweepRun['summary']> {
  const summary: NonNullable<SweepRun['summary']> = {
    counters,
    compliantShare: compliantShare(counters),
    durationMs: now.getTime() - Date.parse(run.startedAt),
  };
  if (importJob) summary.importJob = importJob;
  return summary;
}

/** Import failures listed per device in the run summary; the count is always complete. */
const MAX_RECORDED_IMPORT_FAILURES = 500;

export async function pollImportJob(sweepId: string, jobId: string, services: SweepServices): Promise<MessageOutcome> {
  const stored = await services.sweeps.getRun(sweepId);
  if (!stored || stored.value.status !== 'importing' || !services.imports) return 'ignored';
  const job = await services.imports.status(sweepId, jobId);
  if (job.status === 'running') {
    await services.queue.send({ kind: 'importJob', sweepId, jobId }, services.settings.importPollSeconds ?? IMPORT_POLL_SECONDS);
    return 'importPolled';
  }
  const run = stored.value;
  const summary = run.summary as NonNullable<SweepRun['summary']>;
  const staged = summary.importJob?.staged ?? 0;
  const counters = structuredClone(summary.counters);
  const failed = job.status === 'failed' ? staged : job.errors.length;
  counters.repairs['createModule:imported'] = staged - failed;
  if (failed > 0) counters.repairs['createModule:importFailed'] = failed;
  // Devices the job could not create, by ID (bounded so the run row stays well inside one entity);
  // the others appear in their own posture history as the module-created notifications arrive.
  const failures = job.errors
    .slice(0, MAX_RECORDED_IMPORT_FAILURES)
    .map(({ deviceId, message }) => ({ deviceId, message: message.slice(0, 200) }));
  const importJob = {
    jobId,
    status: job.status,
    staged,
    failed,
    ...(job.failureReason ? { failureReason: job.failureReason } : {}),
    ...(failures.length > 0 ? { failures } : {}),
  };
  const completed: SweepRun = {
    ...run,
    status: 'completed',
    completedAt: services.now().toISOString(),
    summary: { ...summaryOf(run, counters, services.now(), importJob) },
  };
  if ((await services.sweeps.updateRun(completed, stored.etag)) === 'conflict') return 'ignored';
  await services.sweeps.indexRun(completed);
  return 'finalized';
}
