/**
 * Every application setting TwinGuard reads: name, default, meaning, whether it is secret. The README's settings
 * table, local.settings.sample.json and the ARM template are checked against this list.
 */
import { MICRO_AGENT_MODULE_ID } from '../domain/security-module/module-ids';
import { RESPONSE_SETTINGS } from './response-settings';

/** One row of the configuration table (README, local.settings.sample.json checks). */
export interface SettingDefinition {
  name: string;
  /** 'oneOf': one of a group of alternatives must be set (the description names the group). */
  required: boolean | 'oneOf';
  default?: string;
  description: string;
  secret: boolean;
}

export const SETTINGS: readonly SettingDefinition[] = Object.freeze([
  {
    name: 'IOTHUB_CONNECTION_STRING',
    required: 'oneOf',
    secret: true,
    description:
      'IoT Hub service connection string (HostName=…;SharedAccessKeyName=…;SharedAccessKey=…) with registry read/write and service connect. Alternative: IOTHUB_HOST_NAME.',
  },
  {
    name: 'IOTHUB_HOST_NAME',
    required: 'oneOf',
    secret: false,
    description:
      'IoT Hub host name (<hub>.azure-devices.net) used with managed identity (DefaultAzureCredential). Alternative: IOTHUB_CONNECTION_STRING.',
  },
  {
    name: 'IOTHUB_SERVICE_ENDPOINT',
    required: false,
    secret: false,
    description: 'http(s)://host:port of an IoT Hub-compatible service endpoint. Only for the local emulator.',
  },
  {
    name: 'IOTHUB_EVENTS_CONNECTION',
    required: 'oneOf',
    secret: true,
    description:
      "Event Hub-compatible connection string of the hub's built-in endpoint, read by the trigger. Alternative: IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace.",
  },
  {
    name: 'IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace',
    required: 'oneOf',
    secret: false,
    description:
      'Event Hubs namespace host for an identity-based trigger connection, when the events are routed to your own Event Hubs namespace (the built-in endpoint accepts only its connection string). Alternative: IOTHUB_EVENTS_CONNECTION.',
  },
  {
    name: 'IOTHUB_EVENTS_NAME',
    required: false,
    secret: false,
    description: 'Event Hub-compatible name of the built-in endpoint. Required unless IOTHUB_EVENTS_CONNECTION carries EntityPath.',
  },
  {
    name: 'IOTHUB_EVENTS_CONSUMER_GROUP',
    required: false,
    default: 'twinguard',
    secret: false,
    description: 'Consumer group reserved for this app, so other readers of $Default are not disturbed.',
  },
  {
    name: 'POSTURE_STORAGE_CONNECTION',
    required: 'oneOf',
    secret: true,
    description:
      'Storage connection string for the posture tables. Alternatives: POSTURE_STORAGE_TABLE_ENDPOINT, or AzureWebJobsStorage as a fallback.',
  },
  {
    name: 'POSTURE_STORAGE_TABLE_ENDPOINT',
    required: 'oneOf',
    secret: false,
    description: 'Table endpoint URL (https://<account>.table.core.windows.net) used with managed identity.',
  },
  {
    name: 'AzureWebJobsStorage',
    required: 'oneOf',
    secret: true,
    description: "The Functions host's storage; used for the posture tables when neither POSTURE_STORAGE_* setting is given.",
  },
  {
    name: 'POSTURE_LATEST_TABLE',
    required: false,
    default: 'PostureLatest',
    secret: false,
    description: 'Table holding the latest posture per device.',
  },
  {
    name: 'POSTURE_HISTORY_TABLE',
    required: false,
    default: 'PostureHistory',
    secret: false,
    description: 'Table holding the posture history per device.',
  },
  {
    name: 'POSTURE_DEADLETTER_TABLE',
    required: false,
    default: 'PostureDeadLetters',
    secret: false,
    description: 'Table holding notifications that could not be processed.',
  },
  {
    name: 'SECURITY_MODULE_ID',
    required: false,
    default: MICRO_AGENT_MODULE_ID,
    secret: false,
    description: 'Module identity of the security agent (DefenderIotMicroAgent, or azureiotsecurity for the legacy agent).',
  },
  {
    name: 'SECURITY_MODULE_BASELINE',
    required: false,
    default: '{}',
    secret: false,
    description: "JSON desired properties written to a newly created module's twin; validated against the agent schema.",
  },
  {
    name: 'PROVISIONING_ENABLED',
    required: false,
    default: 'true',
    secret: false,
    description: 'Create the security module when a device lacks it (true/false/1/0). When false, posture is recorded only.',
  },
  {
    name: 'PROVISION_EDGE_DEVICES',
    required: false,
    default: 'false',
    secret: false,
    description: 'Also provision IoT Edge devices (true/false/1/0); Edge devices usually run the agent as an Edge module instead.',
  },
  {
    name: 'PROVISIONING_TARGET_CONDITION',
    required: false,
    secret: false,
    description: "Twin condition (IoT Hub query WHERE syntax) a device must match to be provisioned, e.g. tags.environment = 'prod'.",
  },
  {
    name: 'REGISTRATION_STORM_THRESHOLD',
    required: false,
    default: 'auto',
    secret: false,
    description:
      'Device creations in one event batch above which their modules are created by one IoT Hub import job instead of registry calls per device: auto (from IOTHUB_TIER and IOTHUB_UNITS: half a minute of the registry quota at 3 calls per device, 16 for S1 × 1), off, or 0–100000.',
  },
  {
    name: 'IOTHUB_TIER',
    required: false,
    default: 'S1',
    secret: false,
    description: "The hub's pricing tier (S1, S2 or S3), for the registry quota behind REGISTRATION_STORM_THRESHOLD=auto.",
  },
  {
    name: 'IOTHUB_UNITS',
    required: false,
    default: '1',
    secret: false,
    description: "The hub's units (1–200), for the registry quota behind REGISTRATION_STORM_THRESHOLD=auto.",
  },
  {
    name: 'PENDING_PROVISIONING_TABLE',
    required: false,
    default: 'PendingProvisioning',
    secret: false,
    description:
      'Table of module creations a registration storm deferred to an import job, and the job in flight (rows are deleted once recorded).',
  },
  {
    name: 'REGISTRY_RETRY_BUDGET_MS',
    required: false,
    default: '60000',
    secret: false,
    description:
      'Time budget for retrying a throttled or failing IoT Hub or storage call of the event path and the sweep (1000–240000 ms; must stay below the function timeout).',
  },
  {
    name: 'OUTBOUND_TIMEOUT_MS',
    required: false,
    default: '10000',
    secret: false,
    description:
      'Timeout of one attempt of an outbound call (IoT Hub REST, Table, Queue, Blob), 1000–120000 ms: an attempt without an answer by then is abandoned and retried within the retry budget.',
  },
  {
    name: 'API_RETRY_BUDGET_MS',
    required: false,
    default: '5000',
    secret: false,
    description:
      'Time budget for retrying the storage calls of an HTTP API request (1000–60000 ms); past it the API answers 503 with Retry-After instead of holding the request.',
  },
  {
    name: 'POSTURE_WRITE_CONCURRENCY',
    required: false,
    default: '16',
    secret: false,
    description: 'Devices processed in parallel within a batch (1–256).',
  },
  {
    name: 'STALE_AGENT_HOURS',
    required: false,
    default: '24',
    secret: false,
    description: 'Hours without a reported update after which an agent counts as stale (1–8760).',
  },
  { name: 'LOG_LEVEL', required: false, default: 'info', secret: false, description: 'error, warn, info or debug.' },
  {
    name: 'COMPLIANCE_SWEEP_SCHEDULE',
    required: false,
    default: '0 0 2 * * *',
    secret: false,
    description:
      'When the scheduled sweep runs, in UTC: NCRONTAB as Azure Functions reads it, 6 fields (second minute hour day month day-of-week) or 5 (no second: fires at second 0); each field `*`, a value, a range `a-b`, a list `a,b`, a step `*/n`, `a-b/n` or `a/n` (a to the maximum); months and days also by English name (3 letters or more, any case); day-of-week 0–6, Sunday 0. Day AND day-of-week must both match: `0 0 0 13 * 5` is Friday the 13th only. May be a `%OTHER_SETTING%` reference. WEBSITE_TIME_ZONE is not supported (the standalone host refuses one other than UTC).',
  },
  {
    name: 'COMPLIANCE_SWEEP_QUEUE',
    required: false,
    default: 'twinguard-sweep-shards',
    secret: false,
    description: 'Storage queue (in AzureWebJobsStorage) carrying sweep plan, shard and finalize messages.',
  },
  {
    name: 'COMPLIANCE_SWEEP_SHARDS',
    required: false,
    default: '16',
    secret: false,
    description: 'Shards a sweep is split into; each runs as its own queue message, in parallel across instances (1–256).',
  },
  {
    name: 'SWEEP_BUCKET_DEVICES',
    required: false,
    default: '2000',
    secret: false,
    description: 'Target devices per deviceId range (bucket); a bucket is queried, joined and written as one unit (100–10000).',
  },
  {
    name: 'SWEEP_PAGE_SIZE',
    required: false,
    default: '5000',
    secret: false,
    description: 'Twin query page size (x-ms-max-item-count); keep above SWEEP_BUCKET_DEVICES so a bucket is one page (100–10000).',
  },
  {
    name: 'SWEEP_SHARD_TIME_BUDGET_SECONDS',
    required: false,
    default: '240',
    secret: false,
    description:
      'A shard invocation stops starting new buckets after this long and re-enqueues itself (10–3600; keep well below the function timeout).',
  },
  {
    name: 'SWEEP_QUERIES_PER_MINUTE',
    required: false,
    default: '10',
    secret: false,
    description:
      "Twin queries a sweep may issue per minute per instance, so devices and other clients keep the rest of the hub's query quota (S1: 20/min/unit).",
  },
  {
    name: 'SWEEP_REGISTRY_OPS_PER_MINUTE',
    required: false,
    default: '50',
    secret: false,
    description: 'Registry and twin write operations (repairs) a sweep may issue per minute per instance (S1: 100/min/unit).',
  },
  {
    name: 'SWEEP_REPAIR_RULES',
    required: false,
    default: 'module-missing,baseline-not-applied',
    secret: false,
    description:
      'Comma list of rule ids the sweep repairs (only module-missing and baseline-not-applied have a repair); empty or "none" repairs nothing.',
  },
  {
    name: 'SWEEP_BULK_IMPORT_THRESHOLD',
    required: false,
    default: '1000',
    secret: false,
    description:
      'Above this many missing modules (estimated when the sweep is planned) modules are created by one IoT Hub import job instead of one call each (0–1000000).',
  },
  {
    name: 'SWEEP_IMPORT_CONTAINER',
    required: false,
    default: 'twinguard-module-import',
    secret: false,
    description: 'Blob container (in AzureWebJobsStorage) for import-job input and output; the hub reads it through a short-lived SAS URL.',
  },
  {
    name: 'COMPLIANCE_RETENTION_DAYS',
    required: false,
    default: '90',
    secret: false,
    description:
      'Days sweep runs and their findings are kept; each completed sweep deletes older ended runs, never one in progress or the latest completed (1–3650).',
  },
  {
    name: 'INACTIVE_MODULE_HOURS',
    required: false,
    default: '72',
    secret: false,
    description: 'Hours a disconnected security module may go without activity before it is a finding (1–8760).',
  },
  {
    name: 'REQUIRED_MODULE_AUTH',
    required: false,
    default: 'any',
    secret: false,
    description:
      'Weakest acceptable module authentication: any, or x509 (selfSigned or certificateAuthority; a SAS module is then a finding).',
  },
  {
    name: 'COMPLIANCE_RUNS_TABLE',
    required: false,
    default: 'SweepRuns',
    secret: false,
    description: 'Table of sweep runs, shard cursors and summaries.',
  },
  {
    name: 'COMPLIANCE_FINDINGS_TABLE',
    required: false,
    default: 'SweepFindings',
    secret: false,
    description: 'Table of per-device findings of each sweep.',
  },
  {
    name: 'COMPLIANCE_SUPPRESSIONS_TABLE',
    required: false,
    default: 'ComplianceSuppressions',
    secret: false,
    description: 'Table of operator suppressions (rule × device or tag selector, with reason and expiry).',
  },
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING',
    required: false,
    secret: true,
    description:
      'Application Insights connection string (the Functions convention). When set, metrics and log records also go to Application Insights through OpenTelemetry; when absent, nothing of OpenTelemetry is loaded.',
  },
  {
    name: 'TELEMETRY_LOG_RECORDS',
    required: false,
    default: 'auto',
    secret: false,
    description:
      "Whether log records go to Application Insights as well as metrics: `auto` (default) exports them from the standalone host and not under the Azure Functions host, which already sends every log line to `traces` with its invocation id (exporting again would store each line twice); `on` always (structured customDimensions such as deviceId; lower the host's `Function` log category in host.json to avoid the second copy); `off` never.",
  },
  ...RESPONSE_SETTINGS,
] satisfies SettingDefinition[]);

/** Defaults by setting name. */
export const SETTING_DEFAULTS: ReadonlyMap<string, string> = new Map(
  SETTINGS.filter((setting) => setting.default !== undefined).map((setting) => [setting.name, setting.default as string]),
);

/** Names of the settings whose values are never shown (connection strings and keys). */
export const SECRET_SETTINGS: ReadonlySet<string> = new Set(SETTINGS.filter((setting) => setting.secret).map((setting) => setting.name));
