/**
 * Compliance sweep at fleet scale against the IoT Hub emulator over HTTP (real azure-iothub SDK), with the sweep's
 * in-memory stores (the figures are the sweep engine and its registry traffic, not Table storage):
 * - 100,000 devices: ≤ 60 s wall, ≤ 512 MiB peak memory (RSS above the baseline taken after the emulated fleet
 *   is built, since the emulator shares the process; stores are remote-like and keep nothing), ≤ 2 queries per
 *   1,000 devices;
 * - 10k / 50k / 100k: cost per device stays flat (linear growth);
 * - vs a naive sweep that reads each module twin one by one, on 10,000 devices: ratios of registry calls and time.
 * Run: `npm run build && node --expose-gc dist/bench/sweep.bench.js` (BENCH_SWEEP_SIZES=10000,50000,100000).
 */
import { type BenchResult, runIfMain } from './bench-result';
import { HubRegistry } from '../emulator/registry/hub-registry';
import { IotHubDeviceRegistry } from '../shared/adapters/iothub-registry';
import { MemoryPostureStore } from '../shared/adapters/memory/memory-posture-store';
import { MemorySweepStore } from '../shared/adapters/memory/memory-sweep-store';
import { closeRegistryClient, createRegistryClient } from '../shared/adapters/registry-client';
import { mapWithConcurrency } from '../shared/concurrency';
import { startRegistryOnlyHub, type RegistryOnlyHub } from '../testing/registry-only-hub';
import { sweepHarness } from '../testing/sweep-harness';

export type { BenchResult };

const MODULE = 'DefenderIotMicroAgent';
const MIB = 1024 * 1024;

type Hub = RegistryOnlyHub;

async function startHub(devices: number): Promise<Hub> {
  const registry = new HubRegistry();
  for (let i = 0; i < devices; i++) {
    const deviceId = `bench-${String(i).padStart(7, '0')}`;
    registry.createDevice(
      {
        deviceId,
        tags: { environment: i % 3 === 0 ? 'prod' : 'dev' },
        authentication: { type: 'sas' },
        capabilities: { iotEdge: i % 50 === 0 },
      },
      { notify: false },
    );
    if (i % 10 === 3) continue; // 10 % missing their module
    registry.createModule({ deviceId, moduleId: MODULE, authentication: { type: 'sas' } }, { notify: false });
    const desired = { Process_MessageFrequency: 'Medium', Baseline_Disabled: false };
    registry.updateTwin(deviceId, MODULE, { properties: { desired } }, '*', { notify: false });
    const reported =
      i % 10 === 5
        ? { latest_state: 'failed', latest_invalid_fields: ['Baseline_Disabled'] }
        : { ...desired, Process_MessageFrequency: i % 10 === 7 ? 'Low' : 'Medium', latest_state: 'success' };
    registry.updateReported(deviceId, MODULE, reported, { notify: false });
    registry.setConnectionState(deviceId, MODULE, 'Connected', { notify: false });
  }
  return startRegistryOnlyHub('bench-sweep', registry);
}

/**
 * Stand-ins for remote Table storage: they keep nothing (a real store keeps rows out of process), so the memory
 * measured is the sweep's own. Every read misses, so every evaluated device costs a read and a write, as on a
 * first sweep.
 */
class RemoteLikePostureStore extends MemoryPostureStore {
  writes = 0;
  override getLatest(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  override writeLatest(): Promise<'written'> {
    this.writes += 1;
    return Promise.resolve('written');
  }
  override appendHistory(): Promise<void> {
    return Promise.resolve();
  }
}

class RemoteLikeSweepStore extends MemorySweepStore {
  findingRows = 0;
  override writeFindings(rows: Parameters<MemorySweepStore['writeFindings']>[0]): Promise<void> {
    this.findingRows += rows.length;
    return Promise.resolve();
  }
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Peak RSS above the pre-sweep baseline (fleet and emulator already built), sampled every 25 ms. */
async function withPeakRss<T>(task: () => Promise<T>): Promise<{ result: T; peakMiB: number }> {
  collectGarbage();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 25);
  try {
    const result = await task();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, peakMiB: (peak - baseline) / MIB };
  } finally {
    clearInterval(timer);
  }
}

async function sweepOnce(
  hub: Hub,
): Promise<{ seconds: number; queries: number; registryCalls: number; evaluated: number; peakMiB: number }> {
  const sweeps = new RemoteLikeSweepStore();
  const harness = sweepHarness(
    { serviceConnectionString: hub.connectionString(), registryUrl: hub.url },
    {
      settings: {
        shards: 16,
        bucketDevices: 2000,
        pageSize: 5000,
        shardTimeBudgetMs: 240_000,
        bulkImportThreshold: 1e9,
        writeConcurrency: 32,
      },
      sweeps,
      posture: new RemoteLikePostureStore(),
      budget: { queriesPerMinute: 1e6, operationsPerMinute: 1e6 },
      retryBudgetMs: 60_000,
    },
  );
  const started = performance.now();
  const { result: run, peakMiB } = await withPeakRss(() => harness.sweep({ sweepId: 'sw-bench', dryRun: true }));
  const seconds = (performance.now() - started) / 1000;
  harness.close();
  if (run.status !== 'completed' || !run.summary) throw new Error(`sweep did not complete: ${run.status}`);
  const counters = run.summary.counters;
  return {
    seconds,
    queries: counters.queries,
    registryCalls: counters.queries + counters.registryOperations,
    evaluated: counters.evaluated,
    peakMiB,
  };
}

/** The naive sweep: page device ids, then read each module twin one by one (16 in flight). */
async function naiveSweep(hub: Hub): Promise<{ seconds: number; registryCalls: number }> {
  const sdk = createRegistryClient({ connectionString: hub.connectionString(), serviceEndpoint: hub.url });
  const registry = new IotHubDeviceRegistry(sdk, { retryBudgetMs: 60_000 });
  const started = performance.now();
  let calls = 0;
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const page = await registry.queryTwins('SELECT deviceId FROM devices', 1000, token);
    calls += 1;
    for (const row of page.items) ids.push(row['deviceId'] as string);
    token = page.continuationToken;
  } while (token);
  await mapWithConcurrency(ids, 16, async (id) => {
    calls += 1;
    await registry.getModuleTwin(id, MODULE);
  });
  closeRegistryClient(sdk);
  return { seconds: (performance.now() - started) / 1000, registryCalls: calls };
}

export async function run(): Promise<BenchResult[]> {
  const sizes = (process.env['BENCH_SWEEP_SIZES'] ?? '10000,50000,100000').split(',').map(Number);
  const results: BenchResult[] = [];
  const perDevice: Array<{ size: number; microseconds: number; queries: number }> = [];
  for (const size of sizes) {
    collectGarbage();
    const hub = await startHub(size);
    const measured = await sweepOnce(hub);
    await hub.stop();
    perDevice.push({ size, microseconds: (measured.seconds * 1e6) / size, queries: measured.queries });
    results.push({
      name: `sweep ${size.toLocaleString('en-US')} devices: wall`,
      value: Number(measured.seconds.toFixed(2)),
      unit: 's',
      ...(size === 100_000 ? { target: '≤ 60 s', pass: measured.seconds <= 60 } : {}),
    });
    results.push({
      name: `sweep ${size.toLocaleString('en-US')} devices: sweep peak RSS above fleet baseline`,
      value: Math.round(measured.peakMiB),
      unit: 'MiB',
      ...(size === 100_000 ? { target: '≤ 512 MiB', pass: measured.peakMiB <= 512 } : {}),
    });
    const queriesPerThousand = (measured.queries * 1000) / size;
    results.push({
      name: `sweep ${size.toLocaleString('en-US')} devices: queries per 1,000 devices`,
      value: Number(queriesPerThousand.toFixed(2)),
      unit: 'queries',
      target: '≤ 2',
      pass: queriesPerThousand <= 2,
    });
    results.push({
      name: `sweep ${size.toLocaleString('en-US')} devices: cost per device`,
      value: Number(((measured.seconds * 1e6) / size).toFixed(1)),
      unit: 'µs',
    });
  }
  const base = perDevice[0];
  for (const point of perDevice.slice(1)) {
    if (!base) break;
    const ratio = point.microseconds / base.microseconds;
    results.push({
      name: `per-device cost ratio ${point.size.toLocaleString('en-US')} / ${base.size.toLocaleString('en-US')}`,
      value: Number(ratio.toFixed(2)),
      unit: '×',
      target: '≈ 1 (linear)',
      pass: ratio < 1.5,
    });
  }

  const hub = await startHub(10_000);
  const ours = await sweepOnce(hub);
  const naive = await naiveSweep(hub);
  await hub.stop();
  results.push({ name: 'naive sweep 10,000 devices: registry calls', value: naive.registryCalls, unit: 'calls' });
  results.push({ name: 'bucketed sweep 10,000 devices: registry calls', value: ours.registryCalls, unit: 'calls' });
  results.push({
    name: 'registry calls naive / bucketed',
    value: Number((naive.registryCalls / ours.registryCalls).toFixed(1)),
    unit: '×',
  });
  results.push({ name: 'time naive / bucketed (10,000 devices)', value: Number((naive.seconds / ours.seconds).toFixed(1)), unit: '×' });
  return results;
}

runIfMain(module, run);
