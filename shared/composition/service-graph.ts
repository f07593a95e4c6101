/**
 * The one object graph of a worker: every SDK client built once from the validated configuration and shared by
 * every function (the event path, the read API and the sweep), and closed by whoever built it. Loaded on first use
 * by shared/container.ts, so importing a function module does not load the Azure SDKs (cold start).
 */
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import type { Registry } from 'azure-iothub';
import { IotHubModuleImportJobs } from '../adapters/iothub-import-jobs';
import { IotHubDeviceRegistry } from '../adapters/iothub-registry';
import { closeRegistryClient, createRegistryClient } from '../adapters/registry-client';
import { StorageSweepQueue } from '../adapters/storage-sweep-queue';
import { createTableClient, ensureTables, type TableClientSettings } from '../adapters/table-clients';
import { TableDeadLetterStore } from '../adapters/table-dead-letter-store';
import { TablePostureStore } from '../adapters/table-posture-store';
import { TableSuppressionStore } from '../adapters/table-suppression-store';
import { TableSweepStore } from '../adapters/table-sweep-store';
import type { Config } from '../config/config';
import { silentLogger } from '../logger';
import type { ModuleImportJobs } from '../ports/module-import-jobs';
import type { SweepQueue } from '../ports/sweep-queue';
import { BudgetedRegistry, meteringLogger, RegistryMeter } from '../services/registry-budget';

/** The sweep's parts that need the host storage account (AzureWebJobsStorage). */
export interface HostStorageParts {
  queue: SweepQueue;
  /** Absent when the host storage has no shared key: import-job SAS URLs need one. */
  imports?: ModuleImportJobs;
}

export interface ServiceGraph {
  readonly config: Config;
  /** IoT Hub registry for the event path: retried within REGISTRY_RETRY_BUDGET_MS. */
  readonly registry: IotHubDeviceRegistry;
  /** The same SDK client, metered and held to the sweep's per-minute budgets. */
  readonly sweepRegistry: BudgetedRegistry;
  readonly meter: RegistryMeter;
  /** One store (and one latest-row cache) for every writer of this worker. */
  readonly posture: TablePostureStore;
  readonly deadLetters: TableDeadLetterStore;
  readonly sweeps: TableSweepStore;
  readonly suppressions: TableSuppressionStore;
  /**
   * The sweep's queue and import jobs, built on first use: only the sweep needs AzureWebJobsStorage, so a missing
   * or Table-only account must not stop the event path. @throws when AzureWebJobsStorage is not set or unusable.
   */
  hostStorage(): HostStorageParts;
  readonly now: () => Date;
  /** Releases what holds sockets (the IoT Hub client's keep-alive agent). Idempotent. */
  close(): Promise<void>;
}

function registryClientFor(config: Config, credential: () => DefaultAzureCredential): Registry {
  const hub = config.iotHub.access;
  return createRegistryClient(
    hub.kind === 'connectionString'
      ? { connectionString: hub.connectionString, serviceEndpoint: config.iotHub.serviceEndpoint }
      : { hostName: hub.hostName, credential: credential(), serviceEndpoint: config.iotHub.serviceEndpoint },
  );
}

function tableSettingsFor(config: Config, credential: () => DefaultAzureCredential): TableClientSettings {
  const access = config.storage.access;
  return access.kind === 'connectionString'
    ? { connectionString: access.connectionString }
    : { endpoint: access.tableEndpoint, credential: credential() };
}

function hostStoragePartsFor(config: Config, sdk: Registry): HostStorageParts {
  const connectionString = config.hostStorage?.connectionString;
  if (connectionString === undefined)
    throw new Error('AzureWebJobsStorage must be a storage connection string: the sweep fans out through its queue');
  const retryBudgetMs = config.registryRetryBudgetMs;
  // The queue trigger reads AzureWebJobsStorage, so the sweep enqueues there too.
  const queue = StorageSweepQueue.fromConnectionString(connectionString, config.compliance.queueName, { retryBudgetMs });
  const sharedKey = /AccountKey=|UseDevelopmentStorage=true/i.test(connectionString);
  if (!sharedKey) return { queue };
  const imports = new IotHubModuleImportJobs(BlobServiceClient.fromConnectionString(connectionString), sdk, {
    containerPrefix: config.compliance.importContainer,
    retryBudgetMs,
  });
  return { queue, imports };
}

/** Builds every client once and creates the tables if missing. */
export async function buildServiceGraph(config: Config): Promise<ServiceGraph> {
  let sharedCredential: DefaultAzureCredential | undefined;
  const credential = (): DefaultAzureCredential => (sharedCredential ??= new DefaultAzureCredential());
  const retryBudgetMs = config.registryRetryBudgetMs;

  const sdk = registryClientFor(config, credential);
  const meter = new RegistryMeter();
  const sweepRegistry = new BudgetedRegistry(
    new IotHubDeviceRegistry(sdk, { retryBudgetMs, logger: meteringLogger(meter, silentLogger) }),
    meter,
    {
      queriesPerMinute: config.compliance.queriesPerMinute,
      operationsPerMinute: config.compliance.registryOpsPerMinute,
    },
  );

  const storage = tableSettingsFor(config, credential);
  const table = (name: string) => createTableClient(storage, name);
  const latest = table(config.storage.latestTable);
  const history = table(config.storage.historyTable);
  const deadLetterTable = table(config.storage.deadLetterTable);
  const runs = table(config.compliance.runsTable);
  const findings = table(config.compliance.findingsTable);
  const suppressions = table(config.compliance.suppressionsTable);
  await ensureTables([latest, history, deadLetterTable, runs, findings, suppressions]);

  let closed = false;
  let hostStorage: HostStorageParts | undefined;
  return {
    config,
    registry: new IotHubDeviceRegistry(sdk, { retryBudgetMs }),
    sweepRegistry,
    meter,
    posture: new TablePostureStore(latest, history, { retryBudgetMs }),
    deadLetters: new TableDeadLetterStore(deadLetterTable, { retryBudgetMs }),
    sweeps: new TableSweepStore(runs, findings, { retryBudgetMs }),
    suppressions: new TableSuppressionStore(suppressions, { retryBudgetMs }),
    hostStorage: () => (hostStorage ??= hostStoragePartsFor(config, sdk)),
    now: () => new Date(),
    close() {
      if (!closed) {
        closed = true;
        // Table, Queue and Blob clients hold no sockets between requests; the credential holds none either.
        closeRegistryClient(sdk);
      }
      return Promise.resolve();
    },
  };
}
