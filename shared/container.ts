/**
 * Composition root: reads the configuration once per worker, builds each client once, and hands the
 * handlers their services. Handlers never construct SDK clients themselves.
 */
import { DefaultAzureCredential } from '@azure/identity';
import { loadConfig, type Config } from './config';
import { IotHubDeviceRegistry } from './adapters/iothub-registry';
import { createTableClient, ensureTables, type TableClientSettings } from './adapters/table-clients';
import { TableDeadLetterStore } from './adapters/table-dead-letter-store';
import { TablePostureStore } from './adapters/table-posture-store';
import type { DeadLetterStore, DeviceRegistry, PostureStore } from './ports';
import type { ProcessingSettings } from './services/settings';

export interface EventServices {
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
  };
}

let configuration: Config | undefined;
let services: Promise<EventServices> | undefined;

/** The worker's configuration, read and validated on first use (ConfigError lists every problem). */
export function getConfig(): Config {
  return (configuration ??= loadConfig(process.env));
}

/** The worker's services, built once; a failed build is retried on the next invocation. */
export function getServices(): Promise<EventServices> {
  if (!services) {
    services = createEventServices(getConfig()).catch((err: unknown) => {
      services = undefined;
      throw err;
    });
  }
  return services;
}
