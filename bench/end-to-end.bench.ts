/**
 * End to end into Azurite and the IoT Hub emulator over HTTP: TwinGuard's pipeline (coalesced,
 * concurrent, batched writes; twin reads only on gaps) against a naive path that, for every
 * security-module event, reads the module twin and writes one history row and one latest row, one
 * request at a time. Same workload, same run; prints both rates and the ratio.
 */
import { TableClient } from '@azure/data-tables';
import type { InvocationContext } from '@azure/functions';
import { makeIotHubEventsHandler } from '../functions/iothub-events';
import type { HostShapedBatch } from '../host/host-batch';
import { IotHubDeviceRegistry } from '../shared/adapters/iothub-registry';
import { loadConfig } from '../shared/config/load-config';
import { eventServicesOf } from '../shared/composition/event-services';
import { buildServiceGraph } from '../shared/composition/service-graph';
import { decodeBatch } from '../shared/domain/decode-events';
import { encodeKeySegment, historyRowKey, LATEST_ROW_KEY } from '../shared/domain/table-keys';
import { ensureSecurityModule } from '../shared/services/ensure-security-module';
import { silentLogger } from '../shared/logger';
import { type BenchResult, runIfMain } from './bench-result';
import { startAzuriteProcess } from '../testing/azurite-process';
import { startEmulatorProcess } from '../testing/emulator-process';
import { runBatches, sumReports } from './pipeline.bench';
import { BENCH_MODULE, buildWorkload } from '../testing/workload';

const DEVICES = 2_000;
const EVENTS = 4_000;

async function naivePath(
  batches: HostShapedBatch[],
  registry: IotHubDeviceRegistry,
  latest: TableClient,
  history: TableClient,
  settings: Parameters<typeof ensureSecurityModule>[2],
): Promise<number> {
  let twinReads = 0;
  for (const batch of batches) {
    for (const event of decodeBatch(batch.messages, batch.triggerMetadata)) {
      if (event.kind === 'deviceCreated') {
        await ensureSecurityModule({ deviceId: event.deviceId, twin: event.twin }, registry, settings, silentLogger);
        continue;
      }
      if ((event.kind !== 'twinChanged' && event.kind !== 'moduleCreated') || event.moduleId !== BENCH_MODULE) continue;
      const twin = await registry.getModuleTwin(event.deviceId, BENCH_MODULE);
      twinReads++;
      const partitionKey = encodeKeySegment(event.deviceId);
      const reported = JSON.stringify(twin?.reported ?? {});
      await history.upsertEntity(
        {
          partitionKey,
          rowKey: historyRowKey(event.position.enqueuedTime, event.position.partitionId, event.position.sequenceNumber),
          ReportedJson: reported,
        },
        'Replace',
      );
      await latest.upsertEntity(
        { partitionKey, rowKey: LATEST_ROW_KEY, ReportedJson: reported, UpdatedAt: event.position.enqueuedTime },
        'Replace',
      );
    }
  }
  return twinReads;
}

export async function run(): Promise<BenchResult[]> {
  const workload = buildWorkload({ devices: DEVICES, events: EVENTS, batchSize: 100 });
  const fleet = {
    devices: [
      ...workload.deviceIds.map((deviceId) => ({ deviceId, securityModule: { moduleId: BENCH_MODULE } })),
      ...workload.newDeviceIds.map((deviceId) => ({ deviceId })),
    ],
  };
  const [azurite, hub] = await Promise.all([startAzuriteProcess(), startEmulatorProcess(fleet)]);
  try {
    const env = {
      IOTHUB_CONNECTION_STRING: hub.serviceConnectionString,
      IOTHUB_SERVICE_ENDPOINT: hub.registryUrl,
      IOTHUB_EVENTS_CONNECTION: hub.eventHubConnectionString,
      AzureWebJobsStorage: azurite.connectionString,
      SECURITY_MODULE_BASELINE: '{"Heartbeat_MessageFrequency":"High"}',
    };
    const config = loadConfig(env);
    const graph = await buildServiceGraph(config);
    const services = eventServicesOf(graph);
    const handler = makeIotHubEventsHandler(() => Promise.resolve(services)) as (
      messages: unknown,
      context: InvocationContext,
    ) => Promise<unknown>;
    await runBatches(handler, workload.warmup);
    let started = process.hrtime.bigint();
    const reports = await runBatches(handler, workload.batches);
    const pipelineSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const totals = sumReports(reports);

    // New devices were provisioned by the pipeline run: the naive path meets them as already provisioned (get + twin read).
    const naiveLatest = TableClient.fromConnectionString(azurite.connectionString, 'NaiveLatest', { allowInsecureConnection: true });
    const naiveHistory = TableClient.fromConnectionString(azurite.connectionString, 'NaiveHistory', { allowInsecureConnection: true });
    await Promise.all([naiveLatest.createTable(), naiveHistory.createTable()]);
    const naiveRegistry = IotHubDeviceRegistry.fromSettings(
      { connectionString: hub.serviceConnectionString, serviceEndpoint: hub.registryUrl },
      { retryBudgetMs: 60_000 },
    );
    started = process.hrtime.bigint();
    const naiveReads = await naivePath(workload.batches, naiveRegistry, naiveLatest, naiveHistory, services.settings);
    const naiveSeconds = Number(process.hrtime.bigint() - started) / 1e9;

    const pipelineRate = Math.round(EVENTS / pipelineSeconds);
    const naiveRate = Math.round(EVENTS / naiveSeconds);
    const ratio = pipelineRate / naiveRate;
    const readsPerChange = totals.twinReads / Math.max(1, totals.securityTwinChanges);
    (services.registry as IotHubDeviceRegistry).close();
    naiveRegistry.close();
    return [
      { name: `TwinGuard pipeline into Azurite + emulator (${EVENTS} events, ${DEVICES} devices)`, value: pipelineRate, unit: 'events/s' },
      { name: 'naive path: twin read + 2 single-row writes per event', value: naiveRate, unit: 'events/s' },
      { name: 'pipeline / naive', value: Number(ratio.toFixed(1)), unit: '×', target: '≥ 5×', pass: ratio >= 5 },
      {
        name: 'twin reads per security twin-change event (pipeline / naive)',
        value: Number(readsPerChange.toFixed(4)),
        unit: `reads/event (naive ${(naiveReads / Math.max(1, totals.securityTwinChanges)).toFixed(2)})`,
        target: '≤ 0.05',
        pass: readsPerChange <= 0.05,
      },
    ];
  } finally {
    await hub.stop();
    await azurite.stop();
  }
}

runIfMain(module, run);
