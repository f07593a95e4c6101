/**
 * The standalone host on the benchmark mix's main ingredient: security-module twin changes spread over
 * a fleet, produced by the IoT Hub emulator's registry (real notifications over AMQP), consumed by the
 * host's EventConsumer (blob checkpoints) and written to Azurite in its own process.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { IotHubEmulator } from '../emulator';
import { IOTHUB_EVENTS_FUNCTION, makeIotHubEventsHandler } from '../functions/iothub-events';
import { EventConsumer } from '../host/event-consumer';
import { loadConfig } from '../shared/config/load-config';
import { silentLogger } from '../shared/logger';
import type { BatchReport } from '../shared/services/process-event-batch';
import { eventServicesOf } from '../shared/composition/event-services';
import { buildServiceGraph } from '../shared/composition/service-graph';
import { type BenchResult, runIfMain } from './bench-result';
import { startAzuriteProcess } from './external-services';
import { BENCH_MODULE } from './workload';

const DEVICES = 2_000;
const CHANGES = 20_000;

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`benchmark stalled after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function run(): Promise<BenchResult[]> {
  const azurite = await startAzuriteProcess({ withBlob: true });
  const hub = await IotHubEmulator.start({ consumerGroups: ['$Default', 'twinguard'], agent: { defaultMode: 'silent' } });
  const reports: BatchReport[] = [];
  let consumer: EventConsumer | undefined;
  try {
    const config = loadConfig({
      IOTHUB_CONNECTION_STRING: hub.serviceConnectionString,
      IOTHUB_SERVICE_ENDPOINT: hub.registryUrl,
      IOTHUB_EVENTS_CONNECTION: hub.eventHubConnectionString,
      AzureWebJobsStorage: azurite.connectionString,
    });
    const graph = await buildServiceGraph(config);
    const services = eventServicesOf(graph);
    const handler = makeIotHubEventsHandler(async () => services);
    consumer = new EventConsumer({
      connection: { connectionString: hub.eventHubConnectionString },
      consumerGroup: 'twinguard',
      checkpointContainer: BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('bench-checkpoints'),
      functionName: IOTHUB_EVENTS_FUNCTION,
      handler: async (messages, context) => {
        const report = (await handler(messages, context)) as BatchReport;
        reports.push(report);
        return report;
      },
      logger: silentLogger,
      maxBatchSize: 100,
      maxWaitTimeInSeconds: 0.05,
      loadBalancing: { strategy: 'greedy', updateIntervalInMs: 200 },
    });
    await consumer.start();
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
      { name: `standalone host: ${CHANGES} twin changes over ${DEVICES} devices, AMQP in, Azurite out (events/s)`, value: rate, unit: 'events/s' },
      { name: 'batches in the timed part (events per batch)', value: batches, unit: `batches (${(CHANGES / Math.max(1, batches)).toFixed(1)} per batch)` },
      { name: 'twin reads during the run', value: twinReads, unit: 'reads', target: '≤ 5% of events', pass: twinReads <= CHANGES * 0.05 },
    ];
  } finally {
    await consumer?.stop();
    await hub.stop();
    await azurite.stop();
  }
}

runIfMain(module, run);
