/**
 * The compliance sweep against the IoT Hub emulator through the real azure-iothub SDK: rule coverage on a mixed
 * fleet, dry run, repair, suppressions, resume after a crash, throttling, time-budgeted and resumable planning, and
 * how sweeps end (failed on a message's last delivery, stalled runs failed by the timer).
 */
import type { InvocationContext } from '@azure/functions';
import { makeComplianceSweepTimerHandler } from '../../functions/compliance-sweep';
import type { MemorySweepQueue } from '../../shared/adapters/memory/memory-sweep-queue';
import { SAMPLE_QUERY } from '../../shared/domain/sweep-plan';
import type { SweepMessage } from '../../shared/ports/sweep-queue';
import type { SweepStore } from '../../shared/ports/sweep-store';
import { getSweep } from '../../shared/services/sweeps-api';
import { handleSweepDelivery } from '../../shared/services/sweep/handle-sweep-delivery';
import type { MessageOutcome } from '../../shared/services/sweep/message-outcome';
import { startSweep } from '../../shared/services/sweep/start-sweep';
import type { SweepServices } from '../../shared/services/sweep/sweep-services';
import { MemorySuppressionStore } from '../../shared/adapters/memory/memory-suppression-store';
import { MemorySweepStore } from '../../shared/adapters/memory/memory-sweep-store';
import { MemoryPostureStore } from '../../shared/adapters/memory/memory-posture-store';
import { PermanentError } from '../../shared/errors';
import type { DeviceRegistry } from '../../shared/ports/device-registry';
import type { FindingRecord } from '../../shared/ports/sweep-store';
import { sweepHarness } from '../../testing/sweep-harness';
import { BASELINE, buildMixedFleet, desiredOf, MODULE, startFleetHub, type FleetHub } from '../../testing/sweep-fleet';

function byRule(rows: FindingRecord[], status: 'violation' | 'suppressed' = 'violation'): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const row of rows.filter((r) => r.status === status)) (result[row.ruleId] ??= []).push(row.deviceId);
  for (const ids of Object.values(result)) ids.sort();
  return result;
}

function hubState(hub: FleetHub): string {
  return JSON.stringify(
    hub.registry.query('SELECT * FROM devices.modules', 10000).items.map((row) => {
      const { etag: _etag, ...rest } = row as Record<string, unknown>;
      return rest;
    }),
  );
}

/**
 * Delivers the queue as the queue trigger does (both hosts): a message whose handler throws is delivered again, with
 * its dequeue count, up to 5 times, then moved aside as poison.
 */
async function deliverAll(
  queue: MemorySweepQueue,
  services: SweepServices,
  maxDequeueCount = 5,
): Promise<{ outcomes: MessageOutcome[]; poisoned: SweepMessage[] }> {
  const counts = new Map<SweepMessage, number>();
  const outcomes: MessageOutcome[] = [];
  const poisoned: SweepMessage[] = [];
  for (let message = queue.messages.shift(); message !== undefined; message = queue.messages.shift()) {
    const dequeueCount = (counts.get(message) ?? 0) + 1;
    counts.set(message, dequeueCount);
    try {
      outcomes.push(await handleSweepDelivery(message, { dequeueCount, maxDequeueCount }, services));
    } catch {
      if (dequeueCount >= maxDequeueCount) poisoned.push(message);
      else queue.messages.push(message);
    }
  }
  return { outcomes, poisoned };
}

/** A registry that counts the pages of the planning walk. */
function countingWalk(inner: DeviceRegistry, onPage: () => void): DeviceRegistry {
  return Object.assign(Object.create(inner) as DeviceRegistry, {
    queryTwins: (query: string, pageSize: number, token?: string) => {
      if (query === SAMPLE_QUERY) onPage();
      return inner.queryTwins(query, pageSize, token);
    },
  });
}

/** A store whose methods are the given store's, except those overridden. */
function overriding(store: SweepStore, overrides: Partial<SweepStore>): SweepStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property in overrides) return overrides[property as keyof SweepStore];
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const invocation = {
  invocationId: 'test',
  log: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
} as unknown as InvocationContext;

const settings = {
  rules: {
    moduleId: MODULE,
    schema: 'microAgent' as const,
    baseline: BASELINE,
    staleAgentHours: 24,
    inactiveModuleHours: 72,
    requiredModuleAuth: 'any' as const,
  },
  bucketDevices: 10,
  shards: 3,
  pageSize: 1000,
};

describe('compliance sweep on the emulator', () => {
  let hub: FleetHub;
  let expected: Record<string, string[]>;

  beforeEach(async () => {
    hub = await startFleetHub();
    expected = buildMixedFleet(hub);
  });
  afterEach(async () => {
    await hub.stop();
  });

  const nowOf = (): (() => Date) => () => new Date(hub.clock.now);

  it('flags exactly the right devices per rule, counts Edge as out of scope, and a dry run changes nothing', async () => {
    const sweeps = new MemorySweepStore();
    const h = sweepHarness(hub, { settings, sweeps, now: nowOf() });
    const before = hubState(hub);
    const run = await h.sweep({ dryRun: true, sweepId: 'sw-dry' });
    h.close();
    expect(run.status).toBe('completed');
    const rows = sweeps.allFindings('sw-dry');
    const { 'module-auth-weak': _none, ...flagged } = expected;
    expect(byRule(rows)).toEqual(flagged);
    const counters = run.summary?.counters;
    expect(counters).toMatchObject({
      devicesSeen: 52,
      evaluated: 51,
      outOfScopeEdge: 1,
      nonCompliant: 10,
      compliant: 41,
      repairs: { 'createModule:dryRun': 4, 'applyBaseline:dryRun': 1 },
    });
    expect(run.plan?.buckets).toBeGreaterThan(3);
    expect(counters?.queries).toBe(2 * (run.plan?.buckets ?? 0) + 3);
    expect(rows.find((r) => r.deviceId === 'failed-1')?.message).toContain('Baseline_Disabled');
    expect(hubState(hub)).toBe(before);
  });

  it('repairs only opted-in rules, idempotently, and a second sweep finds them fixed', async () => {
    const sweeps = new MemorySweepStore();
    const suppressions = new MemorySuppressionStore();
    await suppressions.put({
      id: 'sup-lab',
      ruleId: 'module-missing',
      selector: "tags.site = 'lab'",
      reason: 'lab bench devices',
      createdAt: new Date(hub.clock.now).toISOString(),
    });
    const driftedBefore = JSON.stringify(desiredOf(hub, 'drifted-1', MODULE));
    const h = sweepHarness(hub, { settings, sweeps, suppressions, now: nowOf() });
    const first = await h.sweep({ sweepId: 'sw-repair' });
    expect(first.summary?.counters.repairs).toEqual({ 'createModule:created': 3, 'applyBaseline:applied': 1 });
    expect(first.summary?.counters.rules['module-missing']).toEqual({ violations: 3, suppressed: 1 });
    expect(hub.registry.findTwin('lab-1', MODULE)).toBeUndefined();
    expect(hub.registry.getModule('ca-missing-1', MODULE).authentication.type).toBe('certificateAuthority');
    expect(desiredOf(hub, "o'brien(2)", MODULE)).toMatchObject(BASELINE);
    expect(desiredOf(hub, 'nobaseline-1', MODULE)).toMatchObject(BASELINE);
    expect(JSON.stringify(desiredOf(hub, 'drifted-1', MODULE))).toBe(driftedBefore);
    const repairRow = sweeps.allFindings('sw-repair').find((r) => r.deviceId === 'missing-1');
    expect(repairRow).toMatchObject({ ruleId: 'module-missing', repairAction: 'createModule', repairResult: 'created' });

    const second = await h.sweep({ sweepId: 'sw-after' });
    h.close();
    const after = byRule(sweeps.allFindings('sw-after'));
    expect(after['module-missing']).toBeUndefined();
    expect(after['baseline-not-applied']).toBeUndefined();
    expect(byRule(sweeps.allFindings('sw-after'), 'suppressed')).toEqual({ 'module-missing': ['lab-1'] });
    expect(second.summary?.counters.repairs).toEqual({});
  });

  it('records findings on the latest posture and history only where compliance changed', async () => {
    const posture = new MemoryPostureStore();
    const h = sweepHarness(hub, { settings, posture, now: nowOf() });
    await h.sweep({ sweepId: 'sw-p1', dryRun: true });
    const failed = await posture.getLatest('failed-1');
    expect(failed?.posture).toMatchObject({
      compliant: false,
      lastSweepId: 'sw-p1',
      findings: [expect.objectContaining({ ruleId: 'agent-failed', status: 'violation', severity: 'high' })],
    });
    expect((await posture.getLatest('healthy-000'))?.posture).toMatchObject({ compliant: true, findings: [] });
    expect(posture.historyCount('failed-1')).toBe(1);
    expect(posture.historyCount('healthy-000')).toBe(0);
    const history = await posture.listHistory('failed-1', { limit: 10 });
    expect(history.entries[0]).toMatchObject({ kind: 'complianceChanged', partitionId: 'sweep' });

    await h.sweep({ sweepId: 'sw-p2', dryRun: true });
    expect(posture.historyCount('failed-1')).toBe(1);
    expect((await posture.getLatest('failed-1'))?.posture.lastSweepId).toBe('sw-p1');
    h.close();
  });

  it('a sweep that crashes halfway resumes from its cursor and ends with the same result as an uninterrupted one', async () => {
    const clean = sweepHarness(hub, { settings, now: nowOf() });
    const reference = await clean.sweep({ sweepId: 'sw-ref', dryRun: true });
    clean.close();

    const sweeps = new MemorySweepStore();
    const crashing = sweepHarness(hub, { settings: { ...settings, shardTimeBudgetMs: 0 }, sweeps, now: nowOf() });
    let modulesQueries = 0;
    const wrap = (inner: DeviceRegistry): DeviceRegistry =>
      Object.assign(Object.create(inner) as DeviceRegistry, {
        queryTwins: (query: string, pageSize: number, token?: string) => {
          if (query.includes('devices.modules WHERE') && ++modulesQueries === 3) throw new PermanentError('instance died');
          return inner.queryTwins(query, pageSize, token);
        },
      });
    const resumed = await crashing.sweep({ sweepId: 'sw-crash', dryRun: true, wrapRegistry: wrap });
    crashing.close();
    expect(modulesQueries).toBeGreaterThan(3);
    const strip = (counters: NonNullable<typeof reference.summary>['counters']) => ({
      ...counters,
      queries: 0,
      registryOperations: 0,
      throttles: 0,
    });
    expect(strip(resumed.summary!.counters)).toEqual(strip(reference.summary!.counters));
    const shards = await sweeps.listShards('sw-crash');
    expect(shards.reduce((sum, shard) => sum + shard.invocations, 0)).toBeGreaterThan(shards.length);
  });

  it('slows down under hub throttling (429 + Retry-After) but completes with the same findings', async () => {
    hub.faults.throttleNext('query', 2, 1);
    const sweeps = new MemorySweepStore();
    const h = sweepHarness(hub, { settings, sweeps, now: nowOf() });
    const started = Date.now();
    const run = await h.sweep({ sweepId: 'sw-throttled', dryRun: true });
    h.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(run.status).toBe('completed');
    expect(run.summary?.counters.throttles).toBe(2);
    const { 'module-auth-weak': _none, ...flagged } = expected;
    expect(byRule(sweeps.allFindings('sw-throttled'))).toEqual(flagged);
  });

  it('keeps within its query budget per minute (token bucket)', async () => {
    // 60 queries/min with a burst of 6: the plan's 3 queries and 2 per bucket beyond the burst wait a second each.
    const h = sweepHarness(hub, {
      settings: { ...settings, bucketDevices: 20 },
      now: nowOf(),
      budget: { queriesPerMinute: 60, operationsPerMinute: 600 },
    });
    const started = Date.now();
    const run = await h.sweep({ sweepId: 'sw-budget', dryRun: true });
    h.close();
    const queries = run.summary?.counters.queries ?? 0;
    expect(queries).toBeGreaterThan(6);
    expect(Date.now() - started).toBeGreaterThanOrEqual((queries - 6) * 1000 - 200);
  });

  describe('planning in time-budgeted, resumable steps', () => {
    // 52 devices, pages of 10 ids: a walk of 6 pages, about 20 ids sampled.
    const planSettings = { ...settings, sampleSize: 20, samplePageSize: 10 };

    async function referencePlan(sweepId: string) {
      const sweeps = new MemorySweepStore();
      const h = sweepHarness(hub, { settings: planSettings, sweeps, now: nowOf() });
      const run = await h.sweep({ sweepId, dryRun: true });
      h.close();
      return { run, findings: byRule(sweeps.allFindings(sweepId)) };
    }

    it('stops at its time budget, re-enqueues itself and continues where it stopped, planning as one step would', async () => {
      const reference = await referencePlan('sw-plan');
      expect(reference.run.plan?.fleetSize).toBe(52);
      expect(reference.run.plan?.splits.length).toBeGreaterThan(2);

      // Every reading of the clock is one second later: with a 2.5 s budget a step walks about two pages.
      let ticks = 0;
      const stepping = (): Date => new Date(hub.clock.now + 1000 * ticks++);
      const sweeps = new MemorySweepStore();
      const h = sweepHarness(hub, { settings: { ...planSettings, shardTimeBudgetMs: 2_500 }, sweeps, now: stepping });
      let walkPages = 0;
      const services = { ...h.services, registry: countingWalk(h.services.registry, () => walkPages++) };
      await startSweep({ sweepId: 'sw-plan', trigger: 'api', dryRun: true }, services);
      const { outcomes, poisoned } = await deliverAll(h.queue, services);
      h.close();

      expect(poisoned).toEqual([]);
      expect(outcomes.filter((outcome) => outcome === 'planYielded').length).toBeGreaterThanOrEqual(2);
      expect(outcomes.filter((outcome) => outcome === 'planned')).toHaveLength(1);
      expect(walkPages).toBe(6);
      const run = (await sweeps.getRun('sw-plan'))?.value;
      expect(run?.status).toBe('completed');
      expect(run?.plan).toEqual(reference.run.plan);
      expect(run?.planning).toBeUndefined();
      expect(byRule(sweeps.allFindings('sw-plan'))).toEqual(reference.findings);
      expect(await sweeps.readPlanSample('sw-plan', 1_000)).toEqual([]);
    });

    it('redoes only the page it had not committed when it crashed, and a duplicate plan message changes nothing', async () => {
      const reference = await referencePlan('sw-plan-crash');
      const inner = new MemorySweepStore();
      let crashed = false;
      const sweeps = overriding(inner, {
        updateRun: (run, etag) => {
          // The instance dies after page 3's sample was stored, before the walk's progress was.
          if (!crashed && run.planning?.pages === 3) {
            crashed = true;
            return Promise.reject(new Error('instance died'));
          }
          return inner.updateRun(run, etag);
        },
      });
      const h = sweepHarness(hub, { settings: { ...planSettings, shardTimeBudgetMs: 0 }, sweeps, now: nowOf() });
      let walkPages = 0;
      const services = { ...h.services, registry: countingWalk(h.services.registry, () => walkPages++) };
      await startSweep({ sweepId: 'sw-plan-crash', trigger: 'api', dryRun: true }, services);
      // A duplicate of the plan message (at-least-once delivery) races the first one.
      await h.queue.send({ kind: 'plan', sweepId: 'sw-plan-crash' });
      const { poisoned } = await deliverAll(h.queue, services);
      h.close();

      expect(crashed).toBe(true);
      expect(poisoned).toEqual([]);
      // Six pages, the third read twice (before and after the crash); the duplicate read none again.
      expect(walkPages).toBe(7);
      const run = (await sweeps.getRun('sw-plan-crash'))?.value;
      expect(run?.status).toBe('completed');
      // The cost counts committed pages: 2 counts + 6 pages.
      expect(run?.plan).toEqual(reference.run.plan);
      expect(run?.plan?.cost).toEqual({ queries: 8, throttles: 0 });
      expect(byRule(inner.allFindings('sw-plan-crash'))).toEqual(reference.findings);
    });
  });

  describe('sweeps that end', () => {
    /** Fails every modules query of the last bucket (open upper end), which belongs to the last shard. */
    function failingLastBucket(inner: DeviceRegistry, onFailure: () => Promise<void>): DeviceRegistry {
      return Object.assign(Object.create(inner) as DeviceRegistry, {
        queryTwins: async (query: string, pageSize: number, token?: string) => {
          if (query.includes('FROM devices.modules WHERE') && query.includes('deviceId >=') && !query.includes('deviceId <')) {
            await onFailure();
            throw new PermanentError('hub says no');
          }
          return inner.queryTwins(query, pageSize, token);
        },
      });
    }

    it('a shard failing on every delivery ends the run as failed with the step and reason; later messages are ignored; the timer starts the next sweep', async () => {
      const sweeps = new MemorySweepStore();
      let clock = hub.clock.now;
      const h = sweepHarness(hub, { settings, sweeps, now: () => new Date(clock) });
      const statusAtFailure: string[] = [];
      const services = {
        ...h.services,
        registry: failingLastBucket(h.services.registry, async () => {
          statusAtFailure.push((await sweeps.getRun('sw-fail'))?.value.status ?? 'none');
        }),
      };
      await startSweep({ sweepId: 'sw-fail', trigger: 'api', dryRun: true }, services);
      const { poisoned } = await deliverAll(h.queue, services);

      expect(poisoned).toEqual([{ kind: 'shard', sweepId: 'sw-fail', shard: 2 }]);
      // Deliveries 1–4 were retried with the run still running; only the last one ended it.
      expect(statusAtFailure).toEqual(['running', 'running', 'running', 'running', 'running']);
      const run = (await sweeps.getRun('sw-fail'))?.value;
      expect(run?.status).toBe('failed');
      expect(run?.error).toBe('shard 2 failed on its last delivery (5 of 5): PermanentError: hub says no');
      expect(run?.completedAt).toBeDefined();
      expect((await getSweep('sw-fail', sweeps)).body).toMatchObject({ status: 'failed', error: run?.error });
      expect(await sweeps.listRecentRuns(5)).toEqual([]);

      // Every later message of the run, redelivered or stray, is ignored, and the run stays as it ended.
      for (const message of [
        { kind: 'plan', sweepId: 'sw-fail' },
        { kind: 'shard', sweepId: 'sw-fail', shard: 0 },
        { kind: 'shard', sweepId: 'sw-fail', shard: 2 },
        { kind: 'finalize', sweepId: 'sw-fail' },
        { kind: 'importJob', sweepId: 'sw-fail', jobId: 'j' },
      ] as SweepMessage[])
        expect(await handleSweepDelivery(message, { dequeueCount: 5, maxDequeueCount: 5 }, services)).toBe('ignored');
      expect((await sweeps.getRun('sw-fail'))?.value).toEqual(run);

      // The next occurrence starts a new sweep regardless, and it completes.
      clock += 24 * 3_600_000;
      await makeComplianceSweepTimerHandler(() => Promise.resolve(h.services))({ isPastDue: false } as never, invocation);
      const scheduled = (await sweeps.listRuns({ statuses: ['planning'], limit: 5 })).map((stored) => stored.value);
      expect(scheduled).toEqual([expect.objectContaining({ trigger: 'schedule', status: 'planning' })]);
      await deliverAll(h.queue, h.services);
      h.close();
      expect((await sweeps.getRun(scheduled[0]!.sweepId))?.value.status).toBe('completed');
      expect((await sweeps.getRun('sw-fail'))?.value.status).toBe('failed');
    });

    it('the timer ends a run that stalled (its message lost on its last delivery) as failed, and leaves a slow one running', async () => {
      const sweeps = new MemorySweepStore();
      let clock = hub.clock.now;
      const h = sweepHarness(hub, { settings, sweeps, now: () => new Date(clock) });
      await startSweep({ sweepId: 'sw-stall', trigger: 'api', dryRun: true }, h.services);
      // The plan runs; then every shard's process dies (nothing is delivered again).
      expect(await handleSweepDelivery(h.queue.messages.shift()!, { dequeueCount: 1, maxDequeueCount: 5 }, h.services)).toBe('planned');
      h.queue.messages.length = 0;
      const timer = makeComplianceSweepTimerHandler(() => Promise.resolve(h.services));

      clock += 30 * 60_000;
      await timer({ isPastDue: false } as never, invocation);
      expect((await sweeps.getRun('sw-stall'))?.value.status).toBe('running');

      clock += 3 * 3_600_000;
      await timer({ isPastDue: false } as never, invocation);
      h.close();
      const stalled = (await sweeps.getRun('sw-stall'))?.value;
      expect(stalled?.status).toBe('failed');
      expect(stalled?.error).toMatch(/^stalled while running: no progress since 2026-11-23T02:00:00\.000Z; .*poison queue$/);
      // Each occurrence started its own sweep; the first one's plan message was never delivered here, so by the
      // second occurrence it had stalled too.
      const runs = (await sweeps.listRuns({ statuses: ['planning', 'failed'], limit: 5 })).map((stored) => stored.value);
      expect(runs.map((run) => [run.trigger, run.status]).sort()).toEqual([
        ['api', 'failed'],
        ['schedule', 'failed'],
        ['schedule', 'planning'],
      ]);
    });
  });
});
