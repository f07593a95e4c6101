/**
 * The whole system in-process over real protocols: Azurite (tables, blobs), the IoT Hub emulator
 * (registry over HTTP, built-in endpoint over AMQP), and TwinGuard's handler fed by the standalone
 * host's Event Hubs consumer with a blob checkpoint store.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { makeIotHubEventsHandler } from '../../functions/iothub-events';
import { IOTHUB_EVENTS_FUNCTION } from '../../functions/iothub-events';
import { EventConsumer } from '../../host/event-consumer';
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../../host/embedded-azurite';
import { IotHubEmulator, type EmulatorOptions } from '../../emulator';
import { createRegistryClient } from '../../shared/adapters/registry-client';
import { loadConfig } from '../../shared/config/load-config';
import { eventServicesOf, type EventServices } from '../../shared/composition/event-services';
import { buildServiceGraph } from '../../shared/composition/service-graph';
import { silentLogger } from '../../shared/logger';
import type { BatchReport } from '../../shared/services/process-event-batch';

export const CONSUMER_GROUP = 'twinguard';

export interface System {
  azurite: EmbeddedAzurite;
  hub: IotHubEmulator;
  env: Record<string, string>;
  services: EventServices;
  /** Everything the handler reported, batch by batch. */
  reports: BatchReport[];
  /** An azure-iothub Registry connected to the emulator, as a user script would be. */
  sdkRegistry: ReturnType<typeof createRegistryClient>;
  startConsumer(): Promise<EventConsumer>;
  stop(): Promise<void>;
}

export async function startSystem(options: { env?: Record<string, string>; emulator?: EmulatorOptions } = {}): Promise<System> {
  const azurite = await startEmbeddedAzurite({ blob: true });
  const hub = await IotHubEmulator.start({ consumerGroups: ['$Default', CONSUMER_GROUP], ...options.emulator });
  const env: Record<string, string> = {
    IOTHUB_CONNECTION_STRING: hub.serviceConnectionString,
    IOTHUB_SERVICE_ENDPOINT: hub.registryUrl,
    IOTHUB_EVENTS_CONNECTION: hub.eventHubConnectionString,
    IOTHUB_EVENTS_CONSUMER_GROUP: CONSUMER_GROUP,
    AzureWebJobsStorage: azurite.connectionString,
    REGISTRY_RETRY_BUDGET_MS: '20000',
    ...options.env,
  };
  const config = loadConfig(env);
  const graph = await buildServiceGraph(config);
  const services = eventServicesOf(graph);
  const reports: BatchReport[] = [];
  const handler = makeIotHubEventsHandler(async () => services);
  const consumers: EventConsumer[] = [];
  const sdkRegistry = createRegistryClient({ connectionString: hub.serviceConnectionString, serviceEndpoint: hub.registryUrl });

  return {
    azurite,
    hub,
    env,
    services,
    reports,
    sdkRegistry,
    async startConsumer() {
      const consumer = new EventConsumer({
        connection: { connectionString: hub.eventHubConnectionString },
        consumerGroup: CONSUMER_GROUP,
        checkpointContainer: BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('twinguard-checkpoints'),
        functionName: IOTHUB_EVENTS_FUNCTION,
        handler: async (messages, context) => {
          const report = (await handler(messages, context)) as BatchReport;
          reports.push(report);
          return report;
        },
        logger: silentLogger,
        maxWaitTimeInSeconds: 0.2,
        loadBalancing: { strategy: 'greedy', updateIntervalInMs: 200 },
        retryMinDelayMs: 200,
        retryMaxDelayMs: 1000,
      });
      await consumer.start();
      consumers.push(consumer);
      return consumer;
    },
    async stop() {
      await Promise.allSettled(consumers.map((c) => c.stop()));
      await graph.close();
      await hub.stop();
      await azurite.stop();
    },
  };
}

/** Polls until `check` returns a value (not undefined/false) or the time runs out. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 15000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
