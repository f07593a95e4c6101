/**
 * The plan step, resumable and time-budgeted: count the fleet (once), walk `SELECT deviceId FROM devices` page by
 * page keeping a hash-decided sample of each page (shared/domain/sweep-plan.ts `samplePage`), cut the split points
 * from the sample, then create the shard rows and enqueue the shards.
 *
 * Every page is committed in two writes: its sample (keyed by page index, so a retry overwrites it), then the
 * walk's progress on the run row (continuation token, pages, devices seen) with the run's etag. A step stops
 * starting pages once its time budget is spent and re-enqueues `plan`; a crash redoes at most the one uncommitted
 * page; a second delivery racing the first loses the etag race and stops. Finished work is never redone: counts,
 * committed pages and the plan itself are read back, not recomputed.
 */
import {
  advanceWalk,
  bucketCount,
  compareOrdinal,
  DEVICE_COUNT_QUERY,
  moduleCountQuery,
  SAMPLE_PAGE_SIZE,
  SAMPLE_QUERY,
  samplePage,
  sampleThreshold,
  seedFrom,
  shardBuckets,
  splitPoints,
} from '../../domain/sweep-plan';
import { emptyCounters } from '../../domain/sweep-summary';
import type { PlanningProgress, Stored, SweepRun } from '../../ports/sweep-store';
import { diffMeter } from './diff-meter';
import type { MessageOutcome } from './message-outcome';
import { countOf } from './registry-pages';
import type { SweepServices } from './sweep-services';
import { timeBudget, type TimeBudget } from './time-budget';

const DEFAULT_SAMPLE_SIZE = 16_384;

export async function planSweep(sweepId: string, services: SweepServices): Promise<MessageOutcome> {
  const budget = timeBudget(services);
  let stored = await services.sweeps.getRun(sweepId);
  if (!stored || (stored.value.status !== 'planning' && stored.value.status !== 'running')) return 'ignored';
  if (!stored.value.plan) {
    const walked = await walkFleet(stored, services, budget);
    if (walked !== 'done') return walked;
    stored = await services.sweeps.getRun(sweepId);
    if (!stored || (stored.value.status !== 'planning' && stored.value.status !== 'running')) return 'ignored';
    if (!stored.value.plan) {
      if ((await setPlan(stored, services)) === 'conflict') return 'ignored';
      stored = await services.sweeps.getRun(sweepId);
      if (!stored?.value.plan) return 'ignored';
    }
  }
  const run = stored.value;
  const plan = run.plan as NonNullable<SweepRun['plan']>;
  await services.sweeps.deletePlanSample(sweepId);
  const settings = services.settings;
  const ranges = shardBuckets(plan.buckets, settings.shards).slice(0, plan.shards);
  const at = services.now().toISOString();
  await services.sweeps.createShards(
    ranges.map((range, shard) => {
      // The plan's queries are charged to shard 0 so the summary counts every registry call.
      const counters = emptyCounters();
      if (shard === 0) Object.assign(counters, { queries: plan.cost?.queries ?? 0, throttles: plan.cost?.throttles ?? 0 });
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
  if (latest && latest.value.status === 'planning')
    await services.sweeps.updateRun({ ...latest.value, status: 'running', updatedAt: services.now().toISOString() }, latest.etag);
  services.logger.info('compliance sweep planned', {
    sweepId,
    buckets: plan.buckets,
    shards: plan.shards,
    fleetSize: plan.fleetSize,
    bulkImport: plan.bulkImport,
  });
  return 'planned';
}

/** Counts (once) and walks the fleet until the walk is done ('done') or the budget is spent ('planYielded'). */
async function walkFleet(
  initial: Stored<SweepRun>,
  services: SweepServices,
  budget: TimeBudget,
): Promise<'done' | 'planYielded' | 'ignored'> {
  const sweepId = initial.value.sweepId;
  const settings = services.settings;
  let stored: Stored<SweepRun> = initial;
  if (!stored.value.planning) {
    const before = services.meter.snapshot();
    const moduleCount = await countOf(services.registry, moduleCountQuery(settings.rules.moduleId));
    const deviceCount = await countOf(services.registry, DEVICE_COUNT_QUERY);
    const cost = diffMeter(before, services.meter.snapshot());
    const planning: PlanningProgress = {
      deviceCount,
      moduleCount,
      pages: 0,
      devicesSeen: 0,
      done: false,
      queries: cost.queries,
      throttles: cost.throttles,
    };
    const reread = await commit(stored, { ...stored.value, planning }, services);
    if (!reread) return 'ignored';
    stored = reread;
  }
  const seed = seedFrom(sweepId);
  const threshold = sampleThreshold(settings.sampleSize ?? DEFAULT_SAMPLE_SIZE, (stored.value.planning as PlanningProgress).deviceCount);
  for (let pages = 0; ; pages++) {
    const planning = stored.value.planning as PlanningProgress;
    if (planning.done) return 'done';
    if (pages > 0 && budget.spent()) {
      await services.queue.send({ kind: 'plan', sweepId });
      services.logger.info('sweep planning yielded at its time budget', {
        sweepId,
        pages: planning.pages,
        devicesSeen: planning.devicesSeen,
      });
      return 'planYielded';
    }
    const before = services.meter.snapshot();
    const page = await services.registry.queryTwins(SAMPLE_QUERY, settings.samplePageSize ?? SAMPLE_PAGE_SIZE, planning.continuationToken);
    const ids: string[] = [];
    for (const row of page.items) if (typeof row['deviceId'] === 'string') ids.push(row['deviceId']);
    await services.sweeps.writePlanSample(sweepId, planning.pages, samplePage(ids, seed, threshold));
    const cost = diffMeter(before, services.meter.snapshot());
    const next = advanceWalk(
      { ...planning, queries: planning.queries + cost.queries, throttles: planning.throttles + cost.throttles },
      page.items.length,
      page.continuationToken,
    );
    const reread = await commit(stored, { ...stored.value, planning: next }, services);
    if (!reread) return 'ignored';
    stored = reread;
  }
}

/** Cuts the plan from the committed sample and sets it on the run (the walk's progress is dropped with it). */
async function setPlan(stored: Stored<SweepRun>, services: SweepServices): Promise<'written' | 'conflict'> {
  const settings = services.settings;
  const planning = stored.value.planning as PlanningProgress;
  const sample = (await services.sweeps.readPlanSample(stored.value.sweepId, planning.pages)).sort(compareOrdinal);
  const splits = splitPoints(sample, planning.devicesSeen, settings.bucketDevices);
  const estimatedMissingModules = Math.max(0, planning.deviceCount - planning.moduleCount);
  const bulkImport =
    !stored.value.dryRun &&
    services.imports !== undefined &&
    settings.repairRules.has('module-missing') &&
    estimatedMissingModules > settings.bulkImportThreshold;
  const buckets = bucketCount(splits);
  const { planning: _done, ...run } = stored.value;
  return services.sweeps.updateRun(
    {
      ...run,
      updatedAt: services.now().toISOString(),
      plan: {
        splits,
        shards: shardBuckets(buckets, settings.shards).length,
        buckets,
        fleetSize: planning.devicesSeen,
        estimatedMissingModules,
        bulkImport,
        cost: { queries: planning.queries, throttles: planning.throttles },
      },
    },
    stored.etag,
  );
}

/** Writes the run with its etag and reads it back (for the next etag); undefined when another writer got there first. */
async function commit(stored: Stored<SweepRun>, run: SweepRun, services: SweepServices): Promise<Stored<SweepRun> | undefined> {
  const next = { ...run, updatedAt: services.now().toISOString() };
  if ((await services.sweeps.updateRun(next, stored.etag)) === 'conflict') return undefined;
  const reread = await services.sweeps.getRun(run.sweepId);
  return reread && (reread.value.status === 'planning' || reread.value.status === 'running') ? reread : undefined;
}
