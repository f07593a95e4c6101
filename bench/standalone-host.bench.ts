/**
 * The standalone host on the benchmark mix's main ingredient: security-module twin changes spread over
 * a fleet, produced by the IoT Hub emulator's registry (real notifications over AMQP), consumed by the
 * host's EventConsumer (blob checkpoints) and written to Azurite in its own process.
 */
import { eventually } from '../testing/eventually';
import { startSystem } from '../testing/start-system';
import { BENCH_MODULE } from '../testing/workload';
import { type BenchResult, runIfMain } from './bench-result';

const DEVICES = 2_000;
const CHANGES = 20_000;

/** Polls every 20 ms: the timed part ends when the condition is seen, so the poll interval is part of the figure. */
const until = (condition: () => boolean, timeoutMs: number): Promise<boolean> =>
  eventually(condition, timeoutMs, 'the benchmark to finish (stalled)', 20);

export async function run(): Promise<BenchResult[]> {
  const system = await startSystem({ azurite: 'own-process', emulator: { agent: { defaultMode: 'silent' } } });
  const { hub, reports } = system;
  try {
    await system.startConsumer({ checkpointContainer: 'bench-checkpoints', maxBatchSize: 100, maxWaitTimeInSeconds: 0.05 });
    const processed = (): number => reports.reduce((sum, r) => sum + r.securityTwinChanges, 0);
    const modules = (): number => reports.reduce((sum, r) => sum + r.historyEntries, 0);

    // Warm-up: the fleet's security modules appear (lifecycle notifications establish each device's base).
    const deviceIds = Array.from({ length: DEVICES }, (_, i) => `host-bench-${String(i).padStart(5, '0')}`);
    for (const deviceId of deviceIds) hub.registry.createDevice({ deviceId }, { notify: false });
    for (const deviceId of deviceIds) hub.registry.createModule({ deviceId, moduleId: BENCH_MODULE });
    await until(() => modules() >= DEVICES, 120_000);

    const warmBatches = reports.length;
    const started = process.hrtime.bigint();
    for (let i = 0; i < CHANGES; i++) {
      const deviceId = deviceIds[(i * 7919) % DEVICES]!;
      hub.devices.setReported(deviceId, { latest_state: i % 23 === 0 ? 'failed' : 'success', sequence: i }, BENCH_MODULE);
      // Let the endpoint deliver while the "fleet" keeps reporting, as a hub does.
      if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => processed() >= CHANGES, 300_000);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const twinReads = reports.reduce((sum, r) => sum + r.twinReads, 0);
    const rate = Math.round(CHANGES / seconds);
    const batches = reports.length - warmBatches;
    return [
      {
        name: `standalone host: ${CHANGES} twin changes over ${DEVICES} devices, AMQP in, Azurite out (events/s)`,
        value: rate,
        unit: 'events/s',
      },
      {
        name: 'batches in the timed part (events per batch)',
        value: batches,
        unit: `batches (${(CHANGES / Math.max(1, batches)).toFixed(1)} per batch)`,
      },
      { name: 'twin reads during the run', value: twinReads, unit: 'reads', target: '≤ 5% of events', pass: twinReads <= CHANGES * 0.05 },
    ];
  } finally {
    await system.stop();
  }
}

runIfMain(module, run);
