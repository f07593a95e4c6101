/**
 * The compliance sweep against the IoT Hub emulator through the real azure-iothub SDK: rule coverage on a mixed
 * fleet, dry run, repair, suppressions, resume after a crash, and throttling.
 */
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
});
