/**
 * The scheduled compliance sweep: plan → shards (resumable, in parallel across instances) → finalize
 * (→ optional bulk import job). Every step is driven by one queue message and is idempotent, because Storage
 * Queue delivery is at least once and a shard may be cut off by the function timeout at any point:
 * - plan: the split points are persisted on the run before any shard exists, so a redelivered plan reuses them;
 * - shard: the cursor (next bucket) and the counters advance together, with the row's etag, only after the
 *   bucket's findings and postures are written; a crashed shard redoes at most one bucket, whose rows it
 *   overwrites; a second delivery of the same shard loses the etag race and stops;
 * - finalize: sums the shard rows once all are done and completes the run with its etag.
 * See shared/domain/sweep-plan.ts for the bucket design and its query cost.
 */
import type { SweepMessage } from '../../ports/sweep-queue';
import { finalizeSweep, pollImportJob } from './finalize-sweep';
import type { MessageOutcome } from './message-outcome';
import { planSweep } from './plan-sweep';
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
