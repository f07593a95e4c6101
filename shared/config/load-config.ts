/** Builds the frozen Config from the environment once, at the composition root. */
import type { Config } from './config';
import { ConfigError } from './config-error';
import { redactConnectionString } from './connection-string';
import { readSetting as read, type Env } from './environment';
import { SECRET_SETTINGS, SETTINGS } from './settings-catalogue';
import { SettingsReader } from './settings-reader';
import { readAlertSettings, readMitigationSettings } from './read-response-settings';

function describeSettings(env: Env): Record<string, string> {
  const view: Record<string, string> = {};
  for (const setting of SETTINGS) {
    const value = read(env, setting.name);
    if (value === undefined) view[setting.name] = setting.default === undefined ? '(not set)' : `${setting.default} (default)`;
    else view[setting.name] = SECRET_SETTINGS.has(setting.name) ? redactConnectionString(value) : value;
  }
  return view;
}

function deepFreeze<T extends object>(value: T): T {
  for (const nested of Object.values(value)) {
    if (typeof nested === 'object' && nested !== null) deepFreeze(nested as object);
  }
  return Object.freeze(value);
}

/**
 * Reads and validates every setting from `env` (pass `process.env` at the composition root).
 * @throws ConfigError listing every problem at once; no secret value appears in it.
 */
export function loadConfig(env: Env): Config {
  const reader = new SettingsReader(env);
  const iotHub = reader.iotHub();
  const events = reader.events();
  const storage = reader.storage();
  const securityModule = reader.securityModule();
  const provisioning = reader.provisioning();
  const storm = reader.storm(storage);
  const registryRetryBudgetMs = reader.integer('REGISTRY_RETRY_BUDGET_MS', 1000, 240000) as number;
  const outboundTimeoutMs = reader.integer('OUTBOUND_TIMEOUT_MS', 1000, 120000) as number;
  const apiRetryBudgetMs = reader.integer('API_RETRY_BUDGET_MS', 1000, 60000) as number;
  const postureWriteConcurrency = reader.integer('POSTURE_WRITE_CONCURRENCY', 1, 256) as number;
  const staleAgentHours = reader.integer('STALE_AGENT_HOURS', 1, 8760) as number;
  const logLevel = reader.logLevel();
  const compliance = reader.compliance(storage);
  const hostStorageConnection = read(env, 'AzureWebJobsStorage');
  const mitigations = readMitigationSettings(reader);
  const alerts = readAlertSettings(reader, hostStorageConnection !== undefined);
  const applicationInsightsConnectionString = read(env, 'APPLICATIONINSIGHTS_CONNECTION_STRING');
  const logRecords = reader.logRecordExport();
  if (reader.problems.length > 0) throw new ConfigError(reader.problems);

  // Only the settings are kept, so describe() can never reveal unrelated environment variables.
  const snapshot: Env = Object.fromEntries(SETTINGS.map((setting) => [setting.name, env[setting.name]]));
  const config: Config = {
    iotHub: deepFreeze(iotHub),
    events: deepFreeze(events),
    storage: deepFreeze(storage),
    securityModule: Object.freeze({ ...securityModule, baseline: deepFreeze(structuredClone(securityModule.baseline)) }),
    // The compiled condition belongs to twin-condition and is not ours to freeze.
    provisioning: Object.freeze(provisioning),
    storm: Object.freeze(storm),
    registryRetryBudgetMs,
    outboundTimeoutMs,
    apiRetryBudgetMs,
    postureWriteConcurrency,
    staleAgentHours,
    logLevel,
    compliance: Object.freeze({ ...compliance, repairRules: Object.freeze([...compliance.repairRules]) }),
    mitigations: Object.freeze({ ...mitigations, quarantineTag: Object.freeze([...mitigations.quarantineTag]) }),
    alerts: deepFreeze(alerts),
    ...(hostStorageConnection === undefined ? {} : { hostStorage: Object.freeze({ connectionString: hostStorageConnection }) }),
    telemetry: Object.freeze(
      applicationInsightsConnectionString === undefined ? { logRecords } : { applicationInsightsConnectionString, logRecords },
    ),
    describe: () => describeSettings(snapshot),
  };
  return Object.freeze(config);
}
