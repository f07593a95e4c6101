/**
 * Builds the real adapters from a validated configuration. Loaded on first use by shared/container.ts,
 * so importing a function module does not pay for the Azure SDKs (cold start).
 */
import { DefaultAzureCredential } from '@azure/identity';
import type { Config } from './config';
import { IotHubDeviceRegistry } from './adapters/iothub-registry';
import { createTableClient, ensureTables, type TableClientSettings } from './adapters/table-clients';
import { TableDeadLetterStore } from './adapters/table-dead-letter-store';
import { TablePostureStore } from './adapters/table-posture-store';
import type { DeadLetterStore } from './ports/dead-letter-store';
import type { DeviceRegistry } from './ports/device-registry';
import type { PostureStore } from './ports/posture-store';
import type { ProcessingSettings } from './services/settings';
import { BlobServiceClient } from '@azure/storage-blob';
import { IotHubModuleImportJobs } from './adapters/iothub-import-jobs';
import { createRegistryClient } from './adapters/registry-client';
import { StorageSweepQueue } from './adapters/storage-sweep-queue';
import { TableSuppressionStore, TableSweepStore } from './adapters/table-sweep-store';
import { silentLogger } from './logger';
import type { SweepServices, SweepSettings } from './services/compliance-sweep';
import { BudgetedRegistry, meteringLogger, RegistryMeter } from './services/registry-budget';

export interface EventServices {
  /** LOG_LEVEL: what the handlers' loggers let through (default info). */
  logLevel?: Config['logLevel'];
  registry: DeviceRegistry;
  posture: PostureStore;
  deadLetters: DeadLetterStore;
  settings: ProcessingSettings;
  now: () => Date;
}

/** How often "latest" may be found changed underneath before a device counts as a transient failure. */
const MAX_LATEST_CONFLICTS = 5;

export function processingSettingsFrom(config: Config): ProcessingSettings {
  return {
    securityModuleId: config.securityModule.moduleId,
    baseline: config.securityModule.baseline,
    baselineSchema: config.securityModule.schema,
    provisioningEnabled: config.provisioning.enabled,
    provisionEdgeDevices: config.provisioning.edgeDevices,
    targetCondition: config.provisioning.targetCondition,
    writeConcurrency: config.postureWriteConcurrency,
    maxLatestConflicts: MAX_LATEST_CONFLICTS,
  };
}

function tableSettings(config: Config, credential: () => DefaultAzureCredential): TableClientSettings {
  const access = config.storage.access;
  return access.kind === 'connectionString'
    ? { connectionString: access.connectionString }
    : { endpoint: access.tableEndpoint, credential: credential() };
}

/** Builds the real adapters for a validated configuration and creates the tables if missing. */
export async function createEventServices(config: Config): Promise<EventServices> {
  let sharedCredential: DefaultAzureCredential | undefined;
  const credential = (): DefaultAzureCredential => (sharedCredential ??= new DefaultAzureCredential());
  const retryBudgetMs = config.registryRetryBudgetMs;

  const hub = config.iotHub.access;
  const registry = IotHubDeviceRegistry.fromSettings(
    hub.kind === 'connectionString'
      ? { connectionString: hub.connectionString, serviceEndpoint: config.iotHub.serviceEndpoint }
      : { hostName: hub.hostName, credential: credential(), serviceEndpoint: config.iotHub.serviceEndpoint },
    { retryBudgetMs },
  );

  const storage = tableSettings(config, credential);
  const latest = createTableClient(storage, config.storage.latestTable);
  const history = createTableClient(storage, config.storage.historyTable);
  const deadLetterTable = createTableClient(storage, config.storage.deadLetterTable);
  await ensureTables([latest, history, deadLetterTable]);

  return {
    registry,
    posture: new TablePostureStore(latest, history, { retryBudgetMs }),
    deadLetters: new TableDeadLetterStore(deadLetterTable, { retryBudgetMs }),
    settings: processingSettingsFrom(config),
    now: () => new Date(),
    logLevel: config.logLevel,
  };
}


// ---------------------------------------------------------------------------------------------------------------
// Compliance sweep

/** Services of the compliance sweep functions (timer, queue, HTTP). */
export type ComplianceServices = SweepServices;

/** The sweep's settings from the validated configuration. */
export function sweepSettingsFrom(config: Config): SweepSettings {
  const sweep = config.compliance;
  return {
    rules: {
      moduleId: config.securityModule.moduleId,
      schema: config.securityModule.schema,
      baseline: config.securityModule.baseline,
      staleAgentHours: config.staleAgentHours,
      inactiveModuleHours: sweep.inactiveModuleHours,
      requiredModuleAuth: sweep.requiredModuleAuth,
    },
    provisionEdgeDevices: config.provisioning.edgeDevices,
    targetCondition: config.provisioning.targetCondition,
    repairRules: new Set(sweep.repairRules),
    shards: sweep.shards,
    bucketDevices: sweep.bucketDevices,
    pageSize: sweep.pageSize,
    shardTimeBudgetMs: sweep.shardTimeBudgetMs,
    bulkImportThreshold: sweep.bulkImportThreshold,
    writeConcurrency: config.postureWriteConcurrency,
  };
}

/**
 * Builds the sweep's adapters: its own registry client (metered, budgeted), the sweep tables, the shard queue and,
 * when the host storage is a shared-key connection string (SAS URLs need the key), bulk import jobs.
 */
export async function createComplianceServices(config: Config, env: Record<string, string | undefined> = process.env): Promise<ComplianceServices> {
  let sharedCredential: DefaultAzureCredential | undefined;
  const credential = (): DefaultAzureCredential => (sharedCredential ??= new DefaultAzureCredential());
  const retryBudgetMs = config.registryRetryBudgetMs;
  const meter = new RegistryMeter();
  const hub = config.iotHub.access;
  const sdk = createRegistryClient(
    hub.kind === 'connectionString'
      ? { connectionString: hub.connectionString, serviceEndpoint: config.iotHub.serviceEndpoint }
      : { hostName: hub.hostName, credential: credential(), serviceEndpoint: config.iotHub.serviceEndpoint },
  );
  const registry = new BudgetedRegistry(new IotHubDeviceRegistry(sdk, { retryBudgetMs, logger: meteringLogger(meter, silentLogger) }), meter, {
    queriesPerMinute: config.compliance.queriesPerMinute,
    operationsPerMinute: config.compliance.registryOpsPerMinute,
  });

  const storage = tableSettings(config, credential);
  const latest = createTableClient(storage, config.storage.latestTable);
  const history = createTableClient(storage, config.storage.historyTable);
  const runs = createTableClient(storage, config.compliance.runsTable);
  const findings = createTableClient(storage, config.compliance.findingsTable);
  const suppressions = createTableClient(storage, config.compliance.suppressionsTable);
  await ensureTables([latest, history, runs, findings, suppressions]);

  // The queue trigger reads AzureWebJobsStorage, so the sweep enqueues there too.
  const hostStorage = env['AzureWebJobsStorage'];
  if (!hostStorage) throw new Error('AzureWebJobsStorage must be a storage connection string: the sweep fans out through its queue');
  const queue = StorageSweepQueue.fromConnectionString(hostStorage, config.compliance.queueName, { retryBudgetMs });
  const sharedKey = /AccountKey=|UseDevelopmentStorage=true/i.test(hostStorage);
  const imports = sharedKey
    ? new IotHubModuleImportJobs(BlobServiceClient.fromConnectionString(hostStorage), sdk, { containerPrefix: config.compliance.importContainer, retryBudgetMs })
    : undefined;

  return {
    registry,
    meter,
    posture: new TablePostureStore(latest, history, { retryBudgetMs }),
    sweeps: new TableSweepStore(runs, findings, { retryBudgetMs }),
    suppressions: new TableSuppressionStore(suppressions, { retryBudgetMs }),
    queue,
    ...(imports ? { imports } : {}),
    settings: sweepSettingsFrom(config),
    now: () => new Date(),
    logger: silentLogger,
  };
}

