/**
 * Polls the bulk import job until it ends, then rewrites the finding rows of the devices it was given (every
 * `module-missing` row the shards recorded as `queuedForImport`): `failed` with the job's error line for the devices
 * it rejected, `created` for the others (shared/domain/import-outcome.ts), shard partition by shard partition,
 * within the time budget; then completes the run. A step out of time records the next shard on the run and
 * re-enqueues its poll; rows already rewritten no longer read as `queuedForImport`, so a redelivery or a resumed
 * step never rewrites a row twice and never misses one.
 */
import { importOutcome, type FinishedImport } from '../../domain/import-outcome';
import type { ImportJobStatus } from '../../ports/module-import-jobs';
import type { FindingRecord, ImportResultsProgress, SweepRun } from '../../ports/sweep-store';
import { completeRun } from './complete-run';
import type { MessageOutcome } from './message-outcome';
import { summaryOf } from './summary-of';
import type { SweepServices } from './sweep-services';
import { timeBudget } from './time-budget';

/** Seconds before an unfinished import job is polled again. */
export const IMPORT_POLL_SECONDS = 15;
/** A running job's polls touch the run row at most this often, so a long import never looks stalled. */
const HEARTBEAT_MS = 5 * 60_000;
/** Import failures listed per device in the run summary; the count is always complete. */
const MAX_RECORDED_IMPORT_FAILURES = 500;
const REWRITE_PAGE_ROWS = 500;

export async function pollImportJob(sweepId: string, jobId: string, services: SweepServices): Promise<MessageOutcome> {
  const budget = timeBudget(services);
  const stored = await services.sweeps.getRun(sweepId);
  if (!stored || stored.value.status !== 'importing' || !services.imports || !stored.value.plan) return 'ignored';
  const run = stored.value;
  const shards = stored.value.plan.shards;
  const job = await services.imports.status(sweepId, jobId);
  const pollSeconds = services.settings.importPollSeconds ?? IMPORT_POLL_SECONDS;
  if (job.status === 'running') {
    const now = services.now();
    if (now.getTime() - Date.parse(run.updatedAt ?? run.startedAt) >= HEARTBEAT_MS)
      await services.sweeps.updateRun({ ...run, updatedAt: now.toISOString() }, stored.etag);
    await services.queue.send({ kind: 'importJob', sweepId, jobId }, pollSeconds);
    return 'importPolled';
  }

  const finished = finishedImport(job);
  const progress: ImportResultsProgress = { ...(run.importResults ?? { nextShard: 0, rowsRewritten: 0 }) };
  let pages = 0;
  for (; progress.nextShard < shards; progress.nextShard++) {
    for await (const page of services.sweeps.findingsWithRepairResult(sweepId, progress.nextShard, 'queuedForImport', REWRITE_PAGE_ROWS)) {
      await services.sweeps.writeFindings(page.map((row) => rewritten(row, finished)));
      progress.rowsRewritten += page.length;
      pages += 1;
      if (budget.spent()) {
        const paused: SweepRun = { ...run, importResults: progress, updatedAt: services.now().toISOString() };
        if ((await services.sweeps.updateRun(paused, stored.etag)) === 'conflict') return 'ignored';
        await services.queue.send({ kind: 'importJob', sweepId, jobId });
        services.logger.info('sweep import results yielded at its time budget', { sweepId, ...progress });
        return 'importPolled';
      }
    }
  }

  const summary = run.summary as NonNullable<SweepRun['summary']>;
  const staged = summary.importJob?.staged ?? 0;
  const counters = structuredClone(summary.counters);
  const failed = job.status === 'failed' ? staged : job.errors.length;
  counters.repairs['createModule:imported'] = staged - failed;
  if (failed > 0) counters.repairs['createModule:importFailed'] = failed;
  // Devices the job could not create, by ID (bounded so the run row stays well inside one entity); every device's
  // own finding row carries its result and error.
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
  services.logger.info('sweep import job finished', {
    sweepId,
    jobId,
    status: job.status,
    staged,
    failed,
    rowsRewritten: progress.rowsRewritten,
    pages,
  });
  return completeRun(
    { value: { ...run, importResults: progress }, etag: stored.etag },
    summaryOf(run, counters, services.now(), importJob),
    services,
    budget,
  );
}

/** The job's error lines by device (the first per device), as shared/domain/import-outcome.ts reads them. */
export function finishedImport(job: ImportJobStatus): FinishedImport {
  const errors = new Map<string, string>();
  let unattributedErrors = 0;
  for (const error of job.errors) {
    if (error.deviceId === '') unattributedErrors += 1;
    else if (!errors.has(error.deviceId)) errors.set(error.deviceId, error.message);
  }
  return {
    jobFailed: job.status === 'failed',
    ...(job.failureReason ? { failureReason: job.failureReason } : {}),
    errors,
    unattributedErrors,
  };
}

function rewritten(row: FindingRecord, job: FinishedImport): FindingRecord {
  const { repairError: _previous, ...rest } = row;
  const outcome = importOutcome(row.deviceId, job);
  return { ...rest, ...outcome };
}
