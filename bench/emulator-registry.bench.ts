/**
 * Emulator registry at fleet scale: 200,000 devices each with a security module twin must fit in < 1 GiB
 * of heap, and the real SDK must page through the module twins at ≥ 20,000 twins/s over loopback
 * (`createQuery(sql, 1000)` + a `nextAsTwin` loop), measured from the first request to the last page received.
 *
 * The emulator always runs in this process. The SDK client is measured twice against it: in this process
 * (server and client then share one event loop, one thread and one heap) and in a separate process, as a
 * real client is (another process, in reality another machine; here the machine's other core). Both
 * placements also page with `query.next` (raw JSON rows, no `Twin` objects), which isolates the SDK's
 * per-row Twin construction. The ≥ 20,000 twins/s target is judged on the separate-process `nextAsTwin`
 * figure; the same-process figures are reported for comparison. `BENCH_CLIENT=same|process` runs only one.
 * The server reads ahead (serializes the next page while the client parses the current one; see
 * RegistryHttpServerOptions.queryReadAhead); `BENCH_READ_AHEAD=0` measures without it.
 * Run: `node --expose-gc dist/bench/emulator-registry.bench.js` (GC figures are rougher without the flag).
 */
import { fork } from 'node:child_process';
import { type BenchResult, runIfMain } from './bench-result';
import { pageThrough, type ClientMessage, type PagingMode, type PagingRun, type PagingTarget } from './emulator-registry-client';
import { FaultInjector } from '../emulator/faults';
import { defaultPolicies, RegistryHttpServer } from '../emulator/http-server';
import { generateSasKey } from '../emulator/registry/sas-key';
import { HubRegistry } from '../emulator/registry/hub-registry';

export type { BenchResult };

const DEVICES = Number(process.env.BENCH_DEVICES ?? 200_000);
const PAGE_SIZE = 1000;
const TARGET_TWINS_PER_SECOND = 20_000;
const MIB = 1024 * 1024;
const MODES: readonly PagingMode[] = ['nextAsTwin', 'next'];

type ClientPlacement = 'same' | 'process';

const PLACEMENT_LABEL: Readonly<Record<ClientPlacement, string>> = {
  same: 'client: same process',
  process: 'client: separate process',
};

/** Runs a full GC when the process was started with --expose-gc; says whether it could. */
function collectGarbage(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return false;
  gc();
  gc();
  return true;
}

function seedFleet(registry: HubRegistry): void {
  for (let i = 0; i < DEVICES; i++) {
    const deviceId = `bench-${String(i).padStart(7, '0')}`;
    registry.createDevice(
      {
        deviceId,
        tags: { environment: i % 3 === 0 ? 'prod' : 'dev', region: 'westeurope' },
        authentication: { type: 'sas', symmetricKey: { primaryKey: generateSasKey(), secondaryKey: generateSasKey() } },
      },
      { notify: false },
    );
    registry.createModule({ deviceId, moduleId: 'DefenderIotMicroAgent' }, { notify: false });
    registry.updateTwin(
      deviceId,
      'DefenderIotMicroAgent',
      { properties: { desired: { Process_MessageFrequency: 'Medium', Baseline_Disabled: false } } },
      '*',
      { notify: false },
    );
    registry.updateReported(
      deviceId,
      'DefenderIotMicroAgent',
      { latest_state: 'success', latest_invalid_fields: [], Process_MessageFrequency: 'Medium', Baseline_Disabled: false },
      { notify: false },
    );
  }
}

async function sameProcessClient(target: PagingTarget): Promise<PagingRun[]> {
  const runs: PagingRun[] = [];
  for (const mode of MODES) runs.push(await pageThrough(target, mode));
  return runs;
}

/**
 * Forks the client (compiled JS next to this file) and collects one run per mode. Each run's duration is
 * measured in the client, first request → last page received; the server's work is all in this process.
 */
async function separateProcessClient(target: PagingTarget): Promise<PagingRun[]> {
  const child = fork(
    require.resolve('./emulator-registry-client'),
    [target.connectionString, target.serviceEndpoint, target.sql, String(target.pageSize), MODES.join(',')],
    {
      stdio: 'inherit',
    },
  );
  const runs: PagingRun[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      child.on('message', (message: ClientMessage) => {
        if (message.type === 'failed') reject(new Error(`client process failed: ${message.error}`));
        else if (runs.push(message.run) === MODES.length) resolve();
      });
      child.once('exit', (code) => reject(new Error(`client process exited early (code ${String(code)})`)));
    });
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (runs.length < MODES.length) child.kill();
      await exited;
    }
  }
  return runs;
}

const microsecondsPerTwin = (cpuSeconds: number, twins: number): number => Number(((cpuSeconds * 1e6) / Math.max(twins, 1)).toFixed(1));

/**
 * Throughput per run, then CPU time per twin: on a loaded machine the wall-clock rates drop while the CPU
 * figures stay put, which tells a slow emulator from a busy machine.
 */
function pagingResults(placement: ClientPlacement, runs: readonly PagingRun[], serverCpuSeconds: number): BenchResult[] {
  const label = PLACEMENT_LABEL[placement];
  const results = runs.map((run): BenchResult => {
    const rate = run.twins / run.seconds;
    const complete = run.twins === DEVICES;
    const name = `[${label}] SDK ${run.mode === 'next' ? 'next (raw rows)' : 'nextAsTwin'}, ${run.pages} pages`;
    // The target is the realistic placement's nextAsTwin figure; the others are for comparison.
    if (placement === 'process' && run.mode === 'nextAsTwin') {
      return {
        name,
        value: Math.round(rate),
        unit: 'twins/s',
        target: `≥ ${TARGET_TWINS_PER_SECOND.toLocaleString('en-US')}`,
        pass: complete && rate >= TARGET_TWINS_PER_SECOND,
      };
    }
    return { name, value: Math.round(rate), unit: 'twins/s', pass: complete ? undefined : false };
  });
  const twins = runs.reduce((sum, run) => sum + run.twins, 0);
  for (const run of runs) {
    const whose = placement === 'same' ? 'server+client' : 'client';
    results.push({
      name: `[${label}] CPU/twin, ${run.mode} (${whose})`,
      value: microsecondsPerTwin(run.cpuSeconds, run.twins),
      unit: 'µs',
    });
  }
  if (placement === 'process') {
    results.push({
      name: `[${label}] CPU/twin, server (query+JSON+HTTP)`,
      value: microsecondsPerTwin(serverCpuSeconds, twins),
      unit: 'µs',
    });
  }
  return results;
}

export async function run(): Promise<BenchResult[]> {
  collectGarbage();
  const baseline = process.memoryUsage().heapUsed;
  const registry = new HubRegistry();
  const seedStart = performance.now();
  seedFleet(registry);
  const seedSeconds = (performance.now() - seedStart) / 1000;
  collectGarbage();
  const memory = process.memoryUsage();
  const fleetHeapMiB = (memory.heapUsed - baseline) / MIB;
  const results: BenchResult[] = [
    {
      name: `seed ${DEVICES.toLocaleString('en-US')} devices + module twins (direct)`,
      value: Math.round(DEVICES / seedSeconds),
      unit: 'devices/s',
    },
    { name: 'fleet heap (devices + modules, after GC)', value: Math.round(fleetHeapMiB), unit: 'MiB' },
    {
      name: 'process heapUsed after seeding',
      value: Math.round(memory.heapUsed / MIB),
      unit: 'MiB',
      target: '< 1024 MiB',
      pass: memory.heapUsed < 1024 * MIB,
    },
    { name: 'process rss after seeding', value: Math.round(memory.rss / MIB), unit: 'MiB' },
  ];

  const policies = defaultPolicies();
  const hostName = 'bench-hub.azure-devices.net';
  const queryReadAhead = process.env.BENCH_READ_AHEAD !== '0';
  const server = new RegistryHttpServer({ registry, faults: new FaultInjector(), hostName, policies, queryReadAhead });
  await server.start();
  const owner = policies.find((p) => p.keyName === 'iothubowner');
  const target: PagingTarget = {
    connectionString: `HostName=${hostName};SharedAccessKeyName=iothubowner;SharedAccessKey=${owner?.primaryKey ?? ''}`,
    serviceEndpoint: server.url,
    sql: "SELECT * FROM devices.modules WHERE moduleId = 'DefenderIotMicroAgent'",
    pageSize: PAGE_SIZE,
  };
  const only = process.env.BENCH_CLIENT;
  const placements: ClientPlacement[] = only === 'same' || only === 'process' ? [only] : ['same', 'process'];
  try {
    for (const placement of placements) {
      collectGarbage();
      const cpuBefore = process.cpuUsage();
      const runs = placement === 'same' ? await sameProcessClient(target) : await separateProcessClient(target);
      const cpu = process.cpuUsage(cpuBefore);
      results.push(...pagingResults(placement, runs, (cpu.user + cpu.system) / 1e6));
    }
  } finally {
    await server.stop();
  }
  // Without --expose-gc (e.g. under run-all) heapUsed would mostly be the paging's uncollected garbage.
  if (collectGarbage()) {
    const heapUsed = process.memoryUsage().heapUsed;
    results.push({
      name: 'process heapUsed after paging (after GC)',
      value: Math.round(heapUsed / MIB),
      unit: 'MiB',
      target: '< 1024 MiB',
      pass: heapUsed < 1024 * MIB,
    });
  }
  return results;
}

runIfMain(module, run);
