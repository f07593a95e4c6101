import {
  bucketRange,
  devicesQuery,
  modulesQuery,
  queryString,
  ReservoirSample,
  shardBuckets,
  splitPoints,
  toSweepModule,
} from '../../shared/domain/sweep-plan';
import { parseCondition, evaluateCondition } from '../../shared/domain/iothub-query/twin-condition';
import { historyRowKey, parseHistoryRowKey } from '../../shared/domain/table-keys';
import { addCounters, countDevice, emptyCounters } from '../../shared/domain/sweep-summary';

describe('sweep plan', () => {
  it.each([
    [['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], 8, 2, ['c', 'e', 'g']],
    [['a', 'b', 'c', 'd'], 4, 10, []],
    [['a', 'a', 'a', 'b'], 4, 1, ['b']],
  ])('splits %j (fleet %d, bucket %d) at %j', (sample, fleet, bucket, expected) => {
    expect(splitPoints(sample, fleet, bucket)).toEqual(expected);
  });

  it('covers every id exactly once with open-ended ranges', () => {
    const splits = ['c', 'm'];
    expect([0, 1, 2].map((i) => bucketRange(splits, i))).toEqual([{ to: 'c' }, { from: 'c', to: 'm' }, { from: 'm' }]);
    expect(shardBuckets(10, 3)).toEqual([
      { start: 0, end: 3 },
      { start: 3, end: 6 },
      { start: 6, end: 10 },
    ]);
    expect(shardBuckets(2, 16)).toEqual([
      { start: 0, end: 1 },
      { start: 1, end: 2 },
    ]);
  });

  it('escapes quotes in range literals so odd ids round-trip through the condition grammar', () => {
    expect(queryString("o'brien\\x")).toBe("'o\\'brien\\\\x'");
    const query = modulesQuery('DefenderIotMicroAgent', { from: "o'b", to: 'p#?%' });
    expect(query).toBe(
      "SELECT deviceId, moduleId, status, connectionState, lastActivityTime, authenticationType, properties.desired AS desired, properties.reported AS reported FROM devices.modules WHERE moduleId = 'DefenderIotMicroAgent' AND deviceId >= 'o\\'b' AND deviceId < 'p#?%'",
    );
    const where = parseCondition(query.slice(query.indexOf('WHERE') + 6));
    expect(evaluateCondition(where, { moduleId: 'DefenderIotMicroAgent', deviceId: "o'brien(2)" })).toBe(true);
    expect(evaluateCondition(where, { moduleId: 'DefenderIotMicroAgent', deviceId: 'p#?%' })).toBe(false);
    expect(devicesQuery({}, false)).toBe('SELECT deviceId, status, capabilities, tags, authenticationType FROM devices');
  });

  it('samples deterministically and uniformly enough', () => {
    const a = new ReservoirSample(100, 7);
    const b = new ReservoirSample(100, 7);
    for (let i = 0; i < 10_000; i++) {
      a.add(`d${String(i).padStart(5, '0')}`);
      b.add(`d${String(i).padStart(5, '0')}`);
    }
    expect(a.sorted()).toEqual(b.sorted());
    expect(a.count).toBe(10_000);
    const median = a.sorted()[50] as string;
    expect(Number(median.slice(1))).toBeGreaterThan(3_000);
    expect(Number(median.slice(1))).toBeLessThan(7_000);
  });

  it('reads module rows with aliased or nested sections', () => {
    expect(toSweepModule({ deviceId: 'd', moduleId: 'm', desired: { a: 1 }, reported: { b: 2 } })).toMatchObject({
      desired: { a: 1 },
      reported: { b: 2 },
    });
    expect(toSweepModule({ deviceId: 'd', moduleId: 'm', properties: { desired: { a: 1 } } })).toMatchObject({
      desired: { a: 1 },
      reported: {},
    });
    expect(toSweepModule({ moduleId: 'm' })).toBeUndefined();
  });

  it('keys sweep history rows with a sweep partition, keeping event rows unchanged', () => {
    const at = new Date('2026-11-23T02:00:00Z');
    expect(historyRowKey(at, '3', 42)).toBe('2516069015999999999_003_00000000000000000042');
    expect(historyRowKey(at, 'sweep', 0)).toBe('2516069015999999999_sweep_00000000000000000000');
    expect(parseHistoryRowKey(historyRowKey(at, 'sweep', 0))).toEqual({ at, partitionId: 'sweep', sequenceNumber: 0 });
  });

  it('adds counters commutatively', () => {
    const a = emptyCounters();
    countDevice(a, 'inScope', {
      findings: [{ ruleId: 'agent-stale', severity: 'medium', message: '', status: 'suppressed' }],
      compliant: true,
      repairs: [],
    });
    countDevice(a, 'edge');
    const total = addCounters(addCounters(emptyCounters(), a), a);
    expect(total).toMatchObject({
      devicesSeen: 4,
      evaluated: 2,
      compliant: 2,
      outOfScopeEdge: 2,
      rules: { 'agent-stale': { violations: 0, suppressed: 2 } },
    });
  });
});
