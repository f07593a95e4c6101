/**
 * `npm run bench`: runs every benchmark in sequence (they share two cores, so never in parallel)
 * and prints absolute figures, ratios and the targets from the issues. A subset can be chosen:
 * `npm run bench -- decode pipeline`.
 */
import { formatResults, type BenchResult } from './bench-result';

interface BenchModule {
  run(): Promise<BenchResult[]>;
}

const BENCHES: Record<string, { title: string; load: () => Promise<BenchModule> }> = {
  decode: { title: 'Decode and classify (pure, one core)', load: () => import('./decode.bench') },
  pipeline: { title: 'Event pipeline with in-memory adapters', load: () => import('./pipeline.bench') },
  'end-to-end': { title: 'End to end into Azurite and the emulator vs a naive path', load: () => import('./end-to-end.bench') },
  'standalone-host': { title: 'Standalone host: AMQP in, Azurite out', load: () => import('./standalone-host.bench') },
  'scale-out': { title: 'Standalone hosts sharing 8 partitions: ownership and 1 vs 3 hosts', load: () => import('./scale-out.bench') },
  'import-time': { title: 'Importing the function app', load: () => import('./import-time.bench') },
  'emulator-registry': { title: 'IoT Hub emulator: fleet memory and query paging', load: () => import('./emulator-registry.bench') },
  'emulator-events': { title: 'IoT Hub emulator: notification stream', load: () => import('./emulator-events.bench') },
  sweep: { title: 'Compliance sweep: 100k devices, linear growth, vs naive per-twin reads', load: () => import('./sweep.bench') },
  'csv-export': { title: 'Findings CSV export: 200,000 rows through the standalone host', load: () => import('./csv-export.bench') },
  'dashboard-load': { title: 'Dashboard load time: demo vs a seeded 100,000-device fleet', load: () => import('./dashboard-load.bench') },
  'mqtt-agents': { title: 'Device side: 10,000 agents over MQTT to one emulator process', load: () => import('./mqtt-agents.bench') },
  'registration-storm': {
    title: 'Registration storm on S1 × 1: storm mode (one import job) vs per-call provisioning',
    load: () => import('./registration-storm.bench'),
  },
};

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const names = requested.length > 0 ? requested : Object.keys(BENCHES);
  let misses = 0;
  for (const name of names) {
    const bench = BENCHES[name];
    if (!bench) {
      console.error(`unknown benchmark ${name}; known: ${Object.keys(BENCHES).join(', ')}`);
      process.exitCode = 2;
      return;
    }
    const started = Date.now();
    const results = await (await bench.load()).run();
    console.log(formatResults(`${bench.title} (${((Date.now() - started) / 1000).toFixed(1)} s)`, results));
    misses += results.filter((r) => r.pass === false).length;
  }
  console.log(misses === 0 ? '\nall targets met' : `\n${misses} target(s) missed`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
