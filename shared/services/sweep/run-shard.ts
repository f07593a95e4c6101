import { activeSuppressions } from '../../domain/compliance-rules';
import { addCounters } from '../../domain/sweep-summary';
import type { ShardState } from '../../ports/sweep-store';
import { finalizeSweep } from './finalize-sweep';
import type { MessageOutcome } from './message-outcome';
import { processBucket } from './process-bucket';
import type { SweepServices } from './sweep-services';
import { timeBudget } from './time-budget';

/** One shard message: claim the shard, process its buckets until done or out of time budget, then try to finalize. */
export async function runShard(sweepId: string, shardIndex: number, services: SweepServices): Promise<MessageOutcome> {
  const budget = timeBudget(services);
  const storedRun = await services.sweeps.getRun(sweepId);
  const run = storedRun?.value;
  if (!run?.plan || (run.status !== 'running' && run.status !== 'planning')) return 'ignored';
  let stored = await services.sweeps.getShard(sweepId, shardIndex);
  if (!stored) return 'ignored';
  if (stored.value.status === 'done') return finalizeSweep(sweepId, services, budget.startedMs).then(() => 'shardDone');

  const claim: ShardState = {
    ...stored.value,
    status: 'running',
    invocations: stored.value.invocations + 1,
    updatedAt: services.now().toISOString(),
  };
  if ((await services.sweeps.updateShard(claim, stored.etag)) === 'conflict') return 'shardSuperseded';
  stored = await services.sweeps.getShard(sweepId, shardIndex);
  if (!stored) return 'ignored';

  const runStart = new Date(run.startedAt);
  const suppressions = activeSuppressions(await services.suppressions.list(), runStart);
  let shard = stored.value;
  let etag = stored.etag;
  let processed = 0;
  while (shard.nextBucket < shard.endBucket) {
    // At least one bucket per invocation, so a budget shorter than a bucket still makes progress.
    if (processed > 0 && budget.spent()) {
      await services.queue.send({ kind: 'shard', sweepId, shard: shardIndex });
      services.logger.info('sweep shard yielded at its time budget', { sweepId, shard: shardIndex, nextBucket: shard.nextBucket });
      return 'shardYielded';
    }
    const delta = await processBucket(run, shard, shard.nextBucket, suppressions, services);
    processed += 1;
    const next: ShardState = {
      ...shard,
      nextBucket: shard.nextBucket + 1,
      counters: addCounters(structuredClone(shard.counters), delta),
      updatedAt: services.now().toISOString(),
    };
    if (next.nextBucket >= next.endBucket) next.status = 'done';
    if ((await services.sweeps.updateShard(next, etag)) === 'conflict') return 'shardSuperseded';
    const reread = await services.sweeps.getShard(sweepId, shardIndex);
    if (!reread) return 'ignored';
    shard = reread.value;
    etag = reread.etag;
  }
  if (shard.status !== 'done') {
    if ((await services.sweeps.updateShard({ ...shard, status: 'done' }, etag)) === 'conflict') return 'shardSuperseded';
  }
  await finalizeSweep(sweepId, services, budget.startedMs);
  return 'shardDone';
}
