/**
 * The one object graph of a worker: every SDK client built once from the validated configuration and shared by
 * every function (the event path, the read API and the sweep), and closed by whoever built it. Loaded on first use
 * by shared/container.ts, so importing a function module does not load the Azure SDKs (cold start).
 *
 * Retries: every client is built with its SDK retry off and a per-attempt timeout (OUTBOUND_TIMEOUT_MS), so the
 * adapters' retryTransient is the one retry layer. The event path and the sweep retry each call within
 * REGISTRY_RETRY_BUDGET_MS; the HTTP API's stores (`api`) wrap the same clients with API_RETRY_BUDGET_MS, so a storage
 * outage is answered in seconds. Retries are logged at WARN through the worker logger, rate-limited.
 */
import { DefaultAzureCredential } from '@azure/identity';
import type { Registry } from 'azure-iothub';
import { IotHubModuleImportJobs } from '../adapters/iothub-import-jobs';
import { IotHubDeviceRegistry } from '../adapters/iothub-registry';
import { closeRegistryClient, createRegistryClient } from '../adapters/registry-client';
import { createBlobServiceClient, createQueueClient } from '../adapters/storage-clients';
import { StorageSweepQueue } from '../adapters/storage-sweep-queue';
import { createTableClient, ensureTables, type TableClientSettings } from '../adapters/table-clients';
import { TableDeadLetterStore } from '../adapters/table-dead-letter-store';
import { TablePendingProvisioningStore } from '../adapters/table-pending-provisioning-store';
import { TablePostureStore } from '../adapters/table-posture-store';
import { TableSuppressionStore } from '../adapters/table-suppression-store';
import { TableSweepStore } from '../adapters/table-sweep-store';
import type { Config } from '../config/config';
import type { Logger } from '../logger';
import type { ModuleImportJobs } from '../ports/module-import-jobs';
import type { SweepQueue } from '../ports/sweep-queue';
import { rateLimitedLogger } from '../rate-limited-logger';
import { retryTransient } from '../retry';
import { BudgetedRegistry, meteringLogger, RegistryMeter } from '../services/registry-budget';
import { ConfigurationCatalog } from '../services/configuration-catalog';
import { workerLogger } from '../worker-logger';
import { metricsTap } from '../telemetry/metrics-tap';
import { flushConfiguredTelemetry, startConfiguredTelemetry } from './telemetry';
import { responsePartsFor, type ResponseParts } from './response-parts';

/** The sweep's parts that need the host storage account (AzureWebJobsStorage). */
export interface HostStorageParts {
  queue: SweepQueue;
  /** The same queue client, retried within API_RETRY_BUDGET_MS (POST /api/sweeps). */
  apiQueue: SweepQueue;
  /** Absent when the host storage has no shared key: import-job SAS URLs need one. */
  imports?: ModuleImportJobs;
}

/**
 * The HTTP API's stores: the graph's own Table clients, retried within API_RETRY_BUDGET_MS instead of
 * REGISTRY_RETRY_BUDGET_MS, so a storage outage fails a request with TransientError (503, Retry-After) in seconds.
 */
export interface ApiStores {
  /** Reads only; keeps no latest-row cache (the read API always reads the table). */
  readonly posture: TablePostureStore;
  readonly sweeps: TableSweepStore;
  readonly suppressions: TableSuppressionStore;
  /** Dead letters for GET /api/dead-letters and the overview's count. */
  readonly deadLetters: TableDeadLetterStore;
  /** The sweep queue for POST /api/sweeps. @throws like {@link ServiceGraph.hostStorage}. */
  queue(): SweepQueue;
}

export interface ServiceGraph {
  readonly config: Config;
  /** IoT Hub registry for the event path: retried within REGISTRY_RETRY_BUDGET_MS. */
  readonly registry: IotHubDeviceRegistry;
  /** The same SDK client, metered and held to the sweep's per-minute budgets. */
  readonly sweepRegistry: BudgetedRegistry;
  /** The hub's automatic configurations for the event path (read at most once a minute). */
  readonly configurations: ConfigurationCatalog;
  /** The same for the sweep, read through the budgeted registry once per sweep. */
  readonly sweepConfigurations: ConfigurationCatalog;
  readonly meter: RegistryMeter;
  /** One store (and one latest-row cache) for every writer of this worker. */
  readonly posture: TablePostureStore;
  /** The HTTP API's view of the same tables (and queue), with the short retry budget. */
  readonly api: ApiStores;
  readonly deadLetters: TableDeadLetterStore;
  readonly sweeps: TableSweepStore;
  readonly suppressions: TableSuppressionStore;
  /** Module creations deferred by a registration storm, and its import job (PENDING_PROVISIONING_TABLE). */
  readonly pendingProvisioning: TablePendingProvisioningStore;
  /**
   * The sweep's queue and import jobs, built on first use: only the sweep needs AzureWebJobsStorage, so a missing
   * or Table-only account must not stop the event path. @throws when AzureWebJobsStorage is not set or unusable.
   */
  hostStorage(): HostStorageParts;
  /** Mitigations, their audit, the alert outbox and sink (shared/composition/response-parts.ts). */
  readonly responses: ResponseParts;
  readonly now: () => Date;
  /** Releases what holds sockets (the IoT Hub client's keep-alive agent). Idempotent. */
  close(): Promise<void>;
}

function registryClientFor(config: Config, credential: () => DefaultAzureCredential): Registry {
  const hub = config.iotHub.access;
  const common = { serviceEndpoint: config.iotHub.serviceEndpoint, timeoutMs: config.outboundTimeoutMs };
  return createRegistryClient(
    hub.kind === 'connectionString'
      ? { connectionString: hub.connectionString, ...common }
      : { hostName: hub.hostName, credential: credential(), ...common },
  );
}

function tableSettingsFor(config: Config, credential: () => DefaultAzureCredential): TableClientSettings {
  const access = config.storage.access;
  return access.kind === 'connectionString'
    ? { connectionString: access.connectionString }
    : { endpoint: access.tableEndpoint, credential: credential() };
}

function hostStoragePartsFor(config: Config, sdk: Registry, logger: Logger): HostStorageParts {
  const connectionString = config.hostStorage?.connectionString;
  if (connectionString === undefined)
    throw new Error('AzureWebJobsStorage must be a storage connection string: the sweep fans out through its queue');
  const retryBudgetMs = config.registryRetryBudgetMs;
  const timeoutMs = config.outboundTimeoutMs;
  // The queue trigger reads AzureWebJobsStorage, so the sweep enqueues there too.
  const queueClient = createQueueClient(connectionString, config.compliance.queueName, { timeoutMs });
  const queue = new StorageSweepQueue(queueClient, { retryBudgetMs, timeoutMs, logger });
  const apiQueue = new StorageSweepQueue(queueClient, { retryBudgetMs: config.apiRetryBudgetMs, timeoutMs, logger });
  const sharedKey = /AccountKey=|UseDevelopmentStorage=true/i.test(connectionString);
  if (!sharedKey) return { queue, apiQueue };
  const imports = new IotHubModuleImportJobs(createBlobServiceClient(connectionString, { timeoutMs }), sdk, {
    containerPrefix: config.compliance.importContainer,
    retryBudgetMs,
    timeoutMs,
    logger,
  });
  return { queue, apiQueue, imports };
}

/** Builds every client once and creates the tables if missing. */
export async function buildServiceGraph(config: Config): Promise<ServiceGraph> {
  let sharedCredential: DefaultAzureCredential | undefined;
  const credential = (): DefaultAzureCredential => (sharedCredential ??= new DefaultAzureCredential());
  const retryBudgetMs = config.registryRetryBudgetMs;
  const apiBudgetMs = config.apiRetryBudgetMs;
  // One limiter for the worker: at most one retry line per operation per 10 s, whichever store or client retried.
  // Metrics are taken before the limiter, so a retry storm is counted in full.
  await startConfiguredTelemetry(config);
  const logger = metricsTap(rateLimitedLogger(workerLogger));

  const sdk = registryClientFor(config, credential);
  const meter = new RegistryMeter();
  const sweepRegistry = new BudgetedRegistry(
    // The meter counts every throttle before the limiter drops lines.
    new IotHubDeviceRegistry(sdk, { retryBudgetMs, logger: meteringLogger(meter, logger) }),
    meter,
    {
      queriesPerMinute: config.compliance.queriesPerMinute,
      operationsPerMinute: config.compliance.registryOpsPerMinute,
    },
  );

  const storage = tableSettingsFor(config, credential);
  const table = (name: string) => createTableClient(storage, name, { timeoutMs: config.outboundTimeoutMs });
  const latest = table(config.storage.latestTable);
  const history = table(config.storage.historyTable);
  const deadLetterTable = table(config.storage.deadLetterTable);
  const runs = table(config.compliance.runsTable);
  const findings = table(config.compliance.findingsTable);
  const suppressions = table(config.compliance.suppressionsTable);
  const pending = table(config.storm.pendingTable);
  const responseTables = { audit: table(config.mitigations.auditTable), outbox: table(config.alerts.outboxTable) };
  // The short budget: the first invocation of a cold worker builds the graph, and it may be an API request.
  await retryTransient(
    () => ensureTables([latest, history, deadLetterTable, runs, findings, suppressions, pending, ...Object.values(responseTables)]),
    {
      budgetMs: apiBudgetMs,
      operationName: 'ensureTables',
      logger,
      retryMessage: 'table storage call retried',
    },
  );

  let closed = false;
  let hostStorageParts: HostStorageParts | undefined;
  const hostStorage = (): HostStorageParts => (hostStorageParts ??= hostStoragePartsFor(config, sdk, logger));
  const registry = new IotHubDeviceRegistry(sdk, { retryBudgetMs, logger });
  const now = () => new Date();
  return {
    config,
    registry,
    sweepRegistry,
    configurations: new ConfigurationCatalog(registry, { now }),
    sweepConfigurations: new ConfigurationCatalog(sweepRegistry, { now }),
    meter,
    posture: new TablePostureStore(latest, history, { retryBudgetMs, logger }),
    api: {
      posture: new TablePostureStore(latest, history, { retryBudgetMs: apiBudgetMs, latestCacheSize: 0, logger }),
      sweeps: new TableSweepStore(runs, findings, { retryBudgetMs: apiBudgetMs, logger }),
      suppressions: new TableSuppressionStore(suppressions, { retryBudgetMs: apiBudgetMs, logger }),
      deadLetters: new TableDeadLetterStore(deadLetterTable, { retryBudgetMs: apiBudgetMs, logger }),
      queue: () => hostStorage().apiQueue,
    },
    deadLetters: new TableDeadLetterStore(deadLetterTable, { retryBudgetMs, logger }),
    sweeps: new TableSweepStore(runs, findings, { retryBudgetMs, logger }),
    suppressions: new TableSuppressionStore(suppressions, { retryBudgetMs, logger }),
    pendingProvisioning: new TablePendingProvisioningStore(pending, { retryBudgetMs, logger }),
    hostStorage,
    responses: responsePartsFor(
      config,
      sdk,
      responseTables,
      { takeOperation: () => sweepRegistry.takeOperation(), logger: meteringLogger(meter, logger) },
      logger,
    ),
    now,
    close() {
      if (!closed) {
        closed = true;
        // Table, Queue and Blob clients hold no sockets between requests; the credential holds none either.
        closeRegistryClient(sdk);
      }
      return flushConfiguredTelemetry();
    },
  };
}
