/**
 * Emulator registry at fleet scale: 200,000 devices each with a security module twin must fit in < 1 GiB
 * of heap, and the real SDK must page through the module twins at ≥ 20,000 twins/s over loopback.
 * Run: `node --expose-gc dist/bench/emulator-registry.bench.js` (GC figures are rougher without the flag).
 */
import type { BenchResult } from './bench-result';
import { FaultInjector } from '../emulator/faults';
import { defaultPolicies, RegistryHttpServer } from '../emulator/http-server';
import { generateSasKey, HubRegistry } from '../emulator/registry';
import { closeRegistryClient, createRegistryClient } from '../shared/adapters/registry-client';

export type { BenchResult };

const DEVICES = Number(process.env.BENCH_DEVICES ?? 200_000);
const MIB = 1024 * 1024;

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

export async function run(): Promise<BenchResult[]> {
  collectGarbage();
  const baseline = process.memoryUsage().heapUsed;
  const registry = new HubRegistry();
  const seedStart = performance.now();
  for (let i = 0; i < DEVICES; i++) {
    const deviceId = `bench-${String(i).padStart(7, '0')}`;
    registry.createDevice(
      { deviceId, tags: { environment: i % 3 === 0 ? 'prod' : 'dev', region: 'westeurope' }, authentication: { type: 'sas', symmetricKey: { primaryKey: generateSasKey(), secondaryKey: generateSasKey() } } },
      { notify: false },
    );
    registry.createModule({ deviceId, moduleId: 'DefenderIotMicroAgent' }, { notify: false });
    registry.updateTwin(deviceId, 'DefenderIotMicroAgent', { properties: { desired: { Process_MessageFrequency: 'Medium', Baseline_Disabled: false } } }, '*', { notify: false });
    registry.updateReported(deviceId, 'DefenderIotMicroAgent', { latest_state: 'success', latest_invalid_fields: [], Process_MessageFrequency: 'Medium', Baseline_Disabled: false }, { notify: false });
  }
  const seedSeconds = (performance.now() - seedStart) / 1000;
  collectGarbage();
  const memory = process.memoryUsage();
  const fleetHeapMiB = (memory.heapUsed - baseline) / MIB;

  const policies = defaultPolicies();
  const hostName = 'bench-hub.azure-devices.net';
  const server = new RegistryHttpServer({ registry, faults: new FaultInjector(), hostName, policies });
  await server.start();
  const owner = policies.find((p) => p.keyName === 'iothubowner');
  const sdk = createRegistryClient({ connectionString: `HostName=${hostName};SharedAccessKeyName=iothubowner;SharedAccessKey=${owner?.primaryKey ?? ''}`, serviceEndpoint: server.url });
  const sql = "SELECT * FROM devices.modules WHERE moduleId = 'DefenderIotMicroAgent'";
  const pageThrough = async (asTwin: boolean): Promise<{ twins: number; pages: number; perSecond: number }> => {
    let twins = 0;
    let pages = 0;
    const started = performance.now();
    const query = sdk.createQuery(sql, 1000);
    while (query.hasMoreResults) {
      // next() without an argument restarts from the first page (SDK quirk); pass the token explicitly.
      const page = asTwin ? await query.nextAsTwin() : await query.next(query.continuationToken as unknown as string);
      twins += (page.result as unknown[]).length;
      pages++;
    }
    return { twins, pages, perSecond: twins / ((performance.now() - started) / 1000) };
  };
  let asTwin: { twins: number; pages: number; perSecond: number };
  let raw: { twins: number; pages: number; perSecond: number };
  try {
    asTwin = await pageThrough(true);
    raw = await pageThrough(false);
  } finally {
    closeRegistryClient(sdk);
    await server.stop();
  }
  const { twins, pages } = asTwin;
  const twinsPerSecond = asTwin.perSecond;
  const heapGiBOk = memory.heapUsed < 1024 * MIB;
  return [
    { name: `seed ${DEVICES.toLocaleString('en-US')} devices + module twins (direct)`, value: Math.round(DEVICES / seedSeconds), unit: 'devices/s' },
    { name: 'fleet heap (devices + modules, after GC)', value: Math.round(fleetHeapMiB), unit: 'MiB' },
    { name: 'process heapUsed after seeding', value: Math.round(memory.heapUsed / MIB), unit: 'MiB', target: '< 1024 MiB', pass: heapGiBOk },
    { name: 'process rss after seeding', value: Math.round(memory.rss / MIB), unit: 'MiB' },
    { name: `SDK query paging (${pages} pages of 1000, nextAsTwin)`, value: Math.round(twinsPerSecond), unit: 'twins/s', target: '≥ 20,000', pass: twinsPerSecond >= 20_000 && twins === DEVICES },
    // Same pages through query.next(): isolates the SDK's per-row Twin construction (lodash merge).
    { name: 'SDK query paging (next, raw JSON rows)', value: Math.round(raw.perSecond), unit: 'twins/s', pass: raw.twins === DEVICES ? undefined : false },
  ];
}

if (require.main === module) {
  run().then(
    (results) => {
      for (const r of results) console.log(`${r.name.padEnd(56)} ${String(r.value).padStart(10)} ${r.unit} ${r.target ?? ''} ${r.pass === undefined ? '' : r.pass ? 'PASS' : 'MISS'}`);
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
