import {
  bucketCount,
  DEVICE_COUNT_QUERY,
  moduleCountQuery,
  ReservoirSample,
  SAMPLE_QUERY,
  seedFrom,
  shardBuckets,
  splitPoints,
} from '../../domain/sweep-plan';
import { emptyCounters } from '../../domain/sweep-summary';
import type { SweepRun } from '../../ports/sweep-store';
import { diffMeter } from './diff-meter';
import type { MessageOutcome } from './message-outcome';
import { allPages, countOf } from './registry-pages';
import type { SweepServices } from './sweep-services';

/** The plan step: sample the fleet for split points (once, persisted on the run), create the shard rows, enqueue the shards. */
export async function planSweep(sweepId: string, services: SweepServices): Promise<MessageOutcome> {
  const stored = await services.sweeps.getRun(sweepId);
  if (!stored || (stored.value.status !== 'planning' && stored.value.status !== 'running')) return 'ignored';
  let run = stored.value;
  const settings = services.settings;
  const before = services.meter.snapshot();
  if (!run.plan) {
    const sample = new ReservoirSample(settings.sampleSize ?? 16_384, seedFrom(sweepId));
    // The widest page the service allows: ids only, so the whole fleet costs fleet/10,000 queries.
    await allPages(services.registry, SAMPLE_QUERY, 10_000, (rows) => {
      for (const row of rows) if (typeof row['deviceId'] === 'string') sample.add(row['deviceId']);
    });
    const splits = splitPoints(sample.sorted(), sample.count, settings.bucketDevices);
    const modules = await countOf(services.registry, moduleCountQuery(settings.rules.moduleId));
    const devices = await countOf(services.registry, DEVICE_COUNT_QUERY);
    const estimatedMissingModules = Math.max(0, devices - modules);
    const bulkImport =
      !run.dryRun &&
      services.imports !== undefined &&
      settings.repairRules.has('module-missing') &&
      estimatedMissingModules > settings.bulkImportThreshold;
    const buckets = bucketCount(splits);
    run = {
      ...run,
      plan: {
        splits,
        shards: shardBuckets(buckets, settings.shards).length,
        buckets,
        fleetSize: sample.count,
        estimatedMissingModules,
        bulkImport,
      },
    };
    if ((await services.sweeps.updateRun(run, stored.etag)) === 'conflict') return 'ignored';
  }
  const plan = run.plan as NonNullable<SweepRun['plan']>;
  const planCost = diffMeter(before, services.meter.snapshot());
  const ranges = shardBuckets(plan.buckets, settings.shards).slice(0, plan.shards);
  const at = services.now().toISOString();
  await services.sweeps.createShards(
    ranges.map((range, shard) => {
      // The plan's queries are charged to shard 0 so the summary counts every registry call.
      const counters = emptyCounters();
      if (shard === 0) Object.assign(counters, { queries: planCost.queries, throttles: planCost.throttles });
      return {
        sweepId,
        shard,
        startBucket: range.start,
        endBucket: range.end,
        nextBucket: range.start,
        status: 'pending',
        counters,
        invocations: 0,
        updatedAt: at,
      };
    }),
  );
  for (let shard = 0; shard < plan.shards; shard++) await services.queue.send({ kind: 'shard', sweepId, shard });
  const latest = await services.sweeps.getRun(sweepId);
  if (latest && latest.value.status === 'planning') await services.sweeps.updateRun({ ...latest.value, status: 'running' }, latest.etag);
  services.logger.info('compliance sweep planned', {
    sweepId,
    buckets: plan.buckets,
    shards: plan.shards,
    fleetSize: plan.fleetSize,
    bulkImport: plan.bulkImport,
  });
  return 'planned';
}
