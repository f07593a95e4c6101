import {
  advanceWalk,
  bucketRange,
  compareOrdinal,
  devicesQuery,
  modulesQuery,
  queryString,
  samplePage,
  sampleThreshold,
  seedFrom,
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
      "SELECT deviceId, moduleId, status, connectionState, lastActivityTime, authenticationType, tags, properties.desired AS desired, properties.reported AS reported FROM devices.modules WHERE moduleId = 'DefenderIotMicroAgent' AND deviceId >= 'o\\'b' AND deviceId < 'p#?%'",
    );
    const where = parseCondition(query.slice(query.indexOf('WHERE') + 6));
    expect(evaluateCondition(where, { moduleId: 'DefenderIotMicroAgent', deviceId: "o'brien(2)" })).toBe(true);
    expect(evaluateCondition(where, { moduleId: 'DefenderIotMicroAgent', deviceId: 'p#?%' })).toBe(false);
    expect(devicesQuery({}, false)).toBe('SELECT deviceId, status, capabilities, tags, authenticationType FROM devices');
  });

  it.each([
    // [sample size, fleet, threshold]
    [16_384, 0, 2 ** 32],
    [16_384, 16_384, 2 ** 32],
    [16_384, 32_768, 2 ** 31],
    [100, 400, 2 ** 30],
    [16_384, 500_000, Math.floor((16_384 / 500_000) * 2 ** 32)],
  ])('samples %d of a fleet of %d with threshold %d', (size, fleet, threshold) => {
    expect(sampleThreshold(size, fleet)).toBe(threshold);
  });

  const fleet = Array.from({ length: 20_000 }, (_, i) => `d${String(i).padStart(5, '0')}`);

  it('samples by hash alone: the same ids whatever the page cut, order or retry', () => {
    const seed = seedFrom('sw-20261123T020000Z-sched');
    const threshold = sampleThreshold(1_000, fleet.length);
    const whole = samplePage(fleet, seed, threshold);
    const pages = [fleet.slice(0, 7_000), fleet.slice(7_000, 7_001), fleet.slice(7_001)];
    const paged = pages.flatMap((page) => samplePage(page, seed, threshold));
    expect(paged).toEqual(whole);
    expect(samplePage([...fleet].reverse(), seed, threshold).sort(compareOrdinal)).toEqual([...whole].sort(compareOrdinal));
    expect(samplePage(pages[0]!, seed, threshold)).toEqual(samplePage(pages[0]!, seed, threshold));
    expect(samplePage(fleet, seedFrom('another sweep'), threshold)).not.toEqual(whole);
    expect(samplePage(fleet.slice(0, 10), seed, 2 ** 32)).toEqual(fleet.slice(0, 10));
  });

  it.each([1, 7, 123_456])('keeps about the sample size, spread evenly over the id space (seed %d)', (seed) => {
    const sample = samplePage(fleet, seed, sampleThreshold(1_000, fleet.length)).sort(compareOrdinal);
    expect(sample.length).toBeGreaterThan(850);
    expect(sample.length).toBeLessThan(1_150);
    // Quartiles of the sample within 4 % of the fleet's.
    for (const q of [0.25, 0.5, 0.75]) {
      const at = Number((sample[Math.floor(q * sample.length)] as string).slice(1));
      expect(Math.abs(at - q * fleet.length)).toBeLessThan(0.04 * fleet.length);
    }
  });

  it.each<[string, { pages: number; devicesSeen: number; continuationToken?: string; done: boolean }, number, string | undefined, object]>([
    [
      'first page, more to come',
      { pages: 0, devicesSeen: 0, done: false },
      10_000,
      't1',
      { pages: 1, devicesSeen: 10_000, continuationToken: 't1', done: false },
    ],
    [
      'a middle page',
      { pages: 1, devicesSeen: 10_000, continuationToken: 't1', done: false },
      10_000,
      't2',
      { pages: 2, devicesSeen: 20_000, continuationToken: 't2', done: false },
    ],
    [
      'the last page',
      { pages: 2, devicesSeen: 20_000, continuationToken: 't2', done: false },
      42,
      undefined,
      { pages: 3, devicesSeen: 20_042, done: true },
    ],
    ['an empty fleet', { pages: 0, devicesSeen: 0, done: false }, 0, undefined, { pages: 1, devicesSeen: 0, done: true }],
  ])('advances the planning walk: %s', (_name, progress, rows, token, expected) => {
    expect(advanceWalk(progress, rows, token)).toEqual(expected);
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
