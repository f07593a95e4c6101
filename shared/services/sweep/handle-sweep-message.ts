/**
 * The scheduled compliance sweep: plan → shards (resumable, in parallel across instances) → finalize
 * (→ optional bulk import job). Every step is driven by one queue message and is idempotent, because Storage
 * Queue delivery is at least once and a shard may be cut off by the function timeout at any point:
 * - plan: counts, the walk's progress (page by page, with each page's sample) and then the split points are
 *   persisted on the run before any shard exists, so a redelivered or resumed plan continues from them;
 * - shard: the cursor (next bucket) and the counters advance together, with the row's etag, only after the
 *   bucket's findings and postures are written; a crashed shard redoes at most one bucket, whose rows it
 *   overwrites; a second delivery of the same shard loses the etag race and stops;
 * - finalize: sums the shard rows once all are done and completes the run with its etag, then deletes expired runs
 *   (retention) in bounded batches, resumed by the next finalize until none is left;
 * - importJob: polls the job, then rewrites the imported devices' finding rows (their own filter is the cursor).
 * Every step stops starting new work once SWEEP_SHARD_TIME_BUDGET_SECONDS is spent and re-enqueues itself; a step
 * that fails on its last delivery ends the run as `failed` (handle-sweep-delivery.ts).
 * See shared/domain/sweep-plan.ts for the bucket design and its query cost.
 */
import type { SweepMessage } from '../../ports/sweep-queue';
import { finalizeSweep } from './finalize-sweep';
import type { MessageOutcome } from './message-outcome';
import { planSweep } from './plan-sweep';
import { pollImportJob } from './poll-import-job';
import { runShard } from './run-shard';
import type { SweepServices } from './sweep-services';

/** Handles one queue message; throws on transient failures so the message is redelivered. */
export async function handleSweepMessage(message: SweepMessage, services: SweepServices): Promise<MessageOutcome> {
  switch (message.kind) {
    case 'plan':
      return planSweep(message.sweepId, services);
    case 'shard':
      return runShard(message.sweepId, message.shard, services);
    case 'finalize':
      return finalizeSweep(message.sweepId, services);
    case 'importJob':
      return pollImportJob(message.sweepId, message.jobId, services);
  }
}
