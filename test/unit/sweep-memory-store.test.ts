/** The in-memory SweepStore keeps the table adapter's contract for the sweep's lifecycle methods. */
import { MemorySweepStore } from '../../shared/adapters/memory/memory-sweep-store';
import { emptyCounters } from '../../shared/domain/sweep-summary';
import type { FindingRecord, SweepRun } from '../../shared/ports/sweep-store';

function run(sweepId: string, status: SweepRun['status'], startedAt: string): SweepRun {
  return {
    sweepId,
    trigger: 'api',
    dryRun: true,
    status,
    startedAt,
    plan: { splits: [], shards: 2, buckets: 2, fleetSize: 0, estimatedMissingModules: 0, bulkImport: false },
  };
}

function finding(sweepId: string, shard: number, deviceId: string, repairResult?: string): FindingRecord {
  return {
    sweepId,
    shard,
    bucket: shard,
    deviceId,
    ruleId: 'module-missing',
    severity: 'critical',
    status: 'violation',
    message: 'm',
    ...(repairResult ? { repairResult } : {}),
  };
}

describe('MemorySweepStore lifecycle', () => {
  it('pages findings by repair result, deletes a run in bounded batches (run row last) and lists runs by status and age', async () => {
    const store = new MemorySweepStore();
    await store.createRun(run('sw-1', 'completed', '2026-01-01T00:00:00Z'));
    await store.createRun(run('sw-10', 'running', '2026-01-02T00:00:00Z'));
    await store.createShards(
      [0, 1].map((shard) => ({
        sweepId: 'sw-1',
        shard,
        startBucket: shard,
        endBucket: shard + 1,
        nextBucket: shard + 1,
        status: 'done' as const,
        counters: emptyCounters(),
        invocations: 1,
        updatedAt: '2026-01-01T00:00:00Z',
      })),
    );
    await store.writeFindings([
      finding('sw-1', 0, 'a', 'queuedForImport'),
      finding('sw-1', 0, 'b'),
      finding('sw-1', 0, 'c', 'queuedForImport'),
      finding('sw-1', 1, 'd', 'queuedForImport'),
      finding('sw-10', 0, 'a'),
    ]);
    await store.indexRun(run('sw-1', 'completed', '2026-01-01T00:00:00Z'));
    await store.writePlanSample('sw-1', 0, ['x', 'y']);
    await store.writePlanSample('sw-1', 1, ['z']);
    await store.writePlanSample('sw-1', 1, ['w']);
    expect((await store.readPlanSample('sw-1', 2)).sort()).toEqual(['w', 'x', 'y']);
    expect(await store.readPlanSample('sw-1', 1)).toEqual(['x', 'y']);

    const pages: string[][] = [];
    for await (const page of store.findingsWithRepairResult('sw-1', 0, 'queuedForImport', 1)) pages.push(page.map((row) => row.deviceId));
    expect(pages).toEqual([['a'], ['c']]);

    expect(
      (await store.listRuns({ statuses: ['completed', 'failed'], startedBefore: '2026-01-01T12:00:00Z', limit: 10 })).map(
        (s) => s.value.sweepId,
      ),
    ).toEqual(['sw-1']);
    expect((await store.listRuns({ statuses: ['running'], limit: 10 })).map((s) => s.value.sweepId)).toEqual(['sw-10']);

    const first = await store.deleteRun(run('sw-1', 'completed', '2026-01-01T00:00:00Z'), 3);
    expect(first).toEqual({ rowsDeleted: 3, done: false });
    expect(await store.getRun('sw-1')).toBeDefined();
    const second = await store.deleteRun(run('sw-1', 'completed', '2026-01-01T00:00:00Z'), 3);
    // 1 finding, the index row, 2 shard rows would be 4: the batch stops at 3 and the run row waits.
    expect(second).toEqual({ rowsDeleted: 3, done: false });
    expect(await store.deleteRun(run('sw-1', 'completed', '2026-01-01T00:00:00Z'), 3)).toEqual({ rowsDeleted: 2, done: true });
    expect(await store.deleteRun(run('sw-1', 'completed', '2026-01-01T00:00:00Z'), 3)).toEqual({ rowsDeleted: 0, done: true });
    expect(await store.getRun('sw-1')).toBeUndefined();
    expect(store.allFindings('sw-1')).toEqual([]);
    expect(await store.listRecentRuns(5)).toEqual([]);
    expect(await store.readPlanSample('sw-1', 2)).toEqual([]);
    expect(store.allFindings('sw-10')).toHaveLength(1);
    expect((await store.getRun('sw-10'))?.value.status).toBe('running');
  });
});
