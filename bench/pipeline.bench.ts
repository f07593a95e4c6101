/**
 * The handler with in-memory adapters on the realistic mix: decode + classify + provisioning +
 * posture merge + coalesced writes, one core, partitions processed concurrently as one instance does.
 * Also counts twin reads per twin-change event in steady state (the hub throttles twin reads).
 */
import { InvocationContext } from '@azure/functions';
import { makeIotHubEventsHandler } from '../functions/iothub-events';
import { MemoryDeadLetterStore } from '../shared/adapters/memory/memory-dead-letter-store';
import { MemoryDeviceRegistry } from '../shared/adapters/memory/memory-device-registry';
import { MemoryPostureStore } from '../shared/adapters/memory/memory-posture-store';
import type { EventServices } from '../shared/composition/event-services';
import type { HostShapedBatch } from '../host/host-batch';
import type { BatchReport } from '../shared/services/process-event-batch';
import { type BenchResult, runIfMain } from './bench-result';
import { BENCH_MODULE, buildWorkload } from '../testing/workload';

export function memoryServices(): EventServices & { registry: MemoryDeviceRegistry; posture: MemoryPostureStore } {
  return {
    registry: new MemoryDeviceRegistry(),
    posture: new MemoryPostureStore(),
    deadLetters: new MemoryDeadLetterStore(),
    now: () => new Date(),
    settings: {
      securityModuleId: BENCH_MODULE,
      baseline: { Heartbeat_MessageFrequency: 'High' },
      baselineSchema: 'microAgent',
      provisioningEnabled: true,
      provisionEdgeDevices: false,
      writeConcurrency: 16,
      maxLatestConflicts: 5,
    },
  };
}

/** Runs batches partition by partition (in order within a partition, partitions concurrently). */
export async function runBatches(
  handler: (messages: unknown, context: InvocationContext) => Promise<unknown>,
  batches: HostShapedBatch[],
): Promise<BatchReport[]> {
  const byPartition = new Map<string, HostShapedBatch[]>();
  for (const batch of batches) {
    const id = (batch.triggerMetadata['partitionContext'] as { partitionId: string }).partitionId;
    byPartition.set(id, [...(byPartition.get(id) ?? []), batch]);
  }
  const reports: BatchReport[] = [];
  await Promise.all(
    [...byPartition.values()].map(async (list) => {
      for (const batch of list) {
        const context = new InvocationContext({ triggerMetadata: batch.triggerMetadata, logHandler: () => undefined });
        reports.push((await handler(batch.messages, context)) as BatchReport);
      }
    }),
  );
  return reports;
}

export function sumReports(reports: BatchReport[]): {
  twinReads: number;
  securityTwinChanges: number;
  historyEntries: number;
  deadLettered: number;
} {
  return reports.reduce(
    (sum, r) => ({
      twinReads: sum.twinReads + r.twinReads,
      securityTwinChanges: sum.securityTwinChanges + r.securityTwinChanges,
      historyEntries: sum.historyEntries + r.historyEntries,
      deadLettered: sum.deadLettered + r.deadLettered,
    }),
    { twinReads: 0, securityTwinChanges: 0, historyEntries: 0, deadLettered: 0 },
  );
}

export async function run(): Promise<BenchResult[]> {
  const workload = buildWorkload({ devices: 10_000, events: 200_000, batchSize: 100 });
  const services = memoryServices();
  for (const id of workload.newDeviceIds) services.registry.addDevice(id);
  const handler = makeIotHubEventsHandler(() => Promise.resolve(services));
  await runBatches(handler, workload.warmup);

  const started = process.hrtime.bigint();
  const reports = await runBatches(handler, workload.batches);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const totals = sumReports(reports);
  const rate = Math.round(workload.events / seconds);
  const readsPerChange = totals.twinReads / Math.max(1, totals.securityTwinChanges);
  return [
    { name: 'handler with in-memory adapters (events/s)', value: rate, unit: 'events/s', target: '≥ 20,000', pass: rate >= 20_000 },
    {
      name: 'events in the timed mix (twin changes / creations)',
      value: workload.events,
      unit: `events (${workload.twinChanges} / ${workload.deviceCreations})`,
    },
    {
      name: 'twin reads per security twin-change event, steady state',
      value: Number(readsPerChange.toFixed(4)),
      unit: 'reads/event',
      target: '≤ 0.05',
      pass: readsPerChange <= 0.05,
    },
    { name: 'history entries written', value: totals.historyEntries, unit: 'rows' },
    {
      name: 'dead letters (must be 0 on this mix)',
      value: totals.deadLettered,
      unit: 'events',
      target: '0',
      pass: totals.deadLettered === 0,
    },
  ];
}

runIfMain(module, run);
