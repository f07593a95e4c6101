/**
 * The whole system over real protocols: Azurite (tables, blobs), the IoT Hub emulator (registry over HTTP,
 * built-in endpoint over AMQP), and TwinGuard's handler fed by the standalone host's Event Hubs consumer with a
 * blob checkpoint store. Azurite runs in this process (quick to start, for tests) or in its own (as the real
 * service does, for benchmarks: it then does not share this event loop).
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { IotHubEmulator, type EmulatorOptions } from '../emulator';
import { IOTHUB_EVENTS_FUNCTION, makeIotHubEventsHandler } from '../functions/iothub-events';
import { startEmbeddedAzurite } from '../host/embedded-azurite';
import { EventConsumer, type EventConsumerOptions } from '../host/event-consumer';
import { closeRegistryClient, createRegistryClient } from '../shared/adapters/registry-client';
import { eventServicesOf, type EventServices } from '../shared/composition/event-services';
import { buildServiceGraph, type ServiceGraph } from '../shared/composition/service-graph';
import { loadConfig } from '../shared/config/load-config';
import { silentLogger } from '../shared/logger';
import type { BatchReport } from '../shared/services/process-event-batch';
import { startAzuriteProcess } from './azurite-process';

export const CONSUMER_GROUP = 'twinguard';

export interface SystemOptions {
  /** App settings over the system's own (connection settings, REGISTRY_RETRY_BUDGET_MS 20000). */
  env?: Record<string, string>;
  emulator?: EmulatorOptions;
  /** 'in-process' (default) or 'own-process'. */
  azurite?: 'in-process' | 'own-process';
}

/** What a consumer may be tuned in; the rest is the system's. */
export type SystemConsumerOptions = Partial<
  Pick<EventConsumerOptions, 'maxBatchSize' | 'maxWaitTimeInSeconds' | 'retryMinDelayMs' | 'retryMaxDelayMs'>
> & {
  /** Blob container of the checkpoints (default twinguard-checkpoints). */
  checkpointContainer?: string;
};

export interface System {
  azurite: { connectionString: string; stop(): Promise<void> };
  hub: IotHubEmulator;
  env: Record<string, string>;
  /** The service graph the handler's services come from (other functions' views: storm-services-of.ts, …). */
  graph: ServiceGraph;
  services: EventServices;
  /** Everything the handler reported, batch by batch. */
  reports: BatchReport[];
  /** An azure-iothub Registry connected to the emulator, as a user script would be. */
  sdkRegistry: ReturnType<typeof createRegistryClient>;
  /** Starts an Event Hubs consumer (greedy, one host) feeding the handler; stopped by stop(). */
  startConsumer(options?: SystemConsumerOptions): Promise<EventConsumer>;
  stop(): Promise<void>;
}

export async function startSystem(options: SystemOptions = {}): Promise<System> {
  const azurite =
    options.azurite === 'own-process'
      ? await startAzuriteProcess({ withBlob: true })
      : await startEmbeddedAzurite({ blob: true, queue: true });
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
  const handler = makeIotHubEventsHandler(() => Promise.resolve(services));
  const consumers: EventConsumer[] = [];
  const sdkRegistry = createRegistryClient({ connectionString: hub.serviceConnectionString, serviceEndpoint: hub.registryUrl });

  return {
    azurite,
    hub,
    env,
    graph,
    services,
    reports,
    sdkRegistry,
    async startConsumer(tuning = {}) {
      const { checkpointContainer = 'twinguard-checkpoints', ...consumerOptions } = tuning;
      const consumer = new EventConsumer({
        connection: { connectionString: hub.eventHubConnectionString },
        consumerGroup: CONSUMER_GROUP,
        checkpointContainer: BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(checkpointContainer),
        functionName: IOTHUB_EVENTS_FUNCTION,
        handler: async (messages, context) => {
          const report = await handler(messages, context);
          reports.push(report);
          return report;
        },
        logger: silentLogger,
        maxWaitTimeInSeconds: 0.2,
        loadBalancing: { strategy: 'greedy', updateIntervalInMs: 200 },
        retryMinDelayMs: 200,
        retryMaxDelayMs: 1000,
        ...consumerOptions,
      });
      await consumer.start();
      consumers.push(consumer);
      return consumer;
    },
    async stop() {
      await Promise.allSettled(consumers.map((c) => c.stop()));
      closeRegistryClient(sdkRegistry);
      await graph.close();
      await hub.stop();
      await azurite.stop();
    },
  };
}
