/**
 * Application settings: read once, validated, frozen. Every problem is collected and reported in one
 * ConfigError, so a deployment is fixed in one round instead of one restart per missing setting.
 * Messages never contain secret values: they name the setting and what is wrong with it.
 */
import { isLegalIdentityId } from './domain/identifiers';
import { MICRO_AGENT_MODULE_ID, validateBaseline } from './domain/security-module';
import { ConditionSyntaxError, parseCondition, type TwinCondition } from './domain/twin-condition';
import type { JsonObject, SecurityAgentSchema } from './domain/types';
import { redactSecrets } from './logger';

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
  { name: 'IOTHUB_CONNECTION_STRING', required: 'oneOf', secret: true, description: 'IoT Hub service connection string (HostName=…;SharedAccessKeyName=…;SharedAccessKey=…) with registry read/write and service connect. Alternative: IOTHUB_HOST_NAME.' },
  { name: 'IOTHUB_HOST_NAME', required: 'oneOf', secret: false, description: 'IoT Hub host name (<hub>.azure-devices.net) used with managed identity (DefaultAzureCredential). Alternative: IOTHUB_CONNECTION_STRING.' },
  { name: 'IOTHUB_SERVICE_ENDPOINT', required: false, secret: false, description: 'http(s)://host:port of an IoT Hub-compatible service endpoint. Only for the local emulator.' },
  { name: 'IOTHUB_EVENTS_CONNECTION', required: 'oneOf', secret: true, description: "Event Hub-compatible connection string of the hub's built-in endpoint, read by the trigger. Alternative: IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace." },
  { name: 'IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace', required: 'oneOf', secret: false, description: 'Event Hubs namespace host for an identity-based trigger connection, when the events are routed to your own Event Hubs namespace (the built-in endpoint accepts only its connection string). Alternative: IOTHUB_EVENTS_CONNECTION.' },
  { name: 'IOTHUB_EVENTS_NAME', required: false, secret: false, description: 'Event Hub-compatible name of the built-in endpoint. Required unless IOTHUB_EVENTS_CONNECTION carries EntityPath.' },
  { name: 'IOTHUB_EVENTS_CONSUMER_GROUP', required: false, default: 'twinguard', secret: false, description: 'Consumer group reserved for this app, so other readers of $Default are not disturbed.' },
  { name: 'POSTURE_STORAGE_CONNECTION', required: 'oneOf', secret: true, description: 'Storage connection string for the posture tables. Alternatives: POSTURE_STORAGE_TABLE_ENDPOINT, or AzureWebJobsStorage as a fallback.' },
  { name: 'POSTURE_STORAGE_TABLE_ENDPOINT', required: 'oneOf', secret: false, description: 'Table endpoint URL (https://<account>.table.core.windows.net) used with managed identity.' },
  { name: 'AzureWebJobsStorage', required: 'oneOf', secret: true, description: "The Functions host's storage; used for the posture tables when neither POSTURE_STORAGE_* setting is given." },
  { name: 'POSTURE_LATEST_TABLE', required: false, default: 'PostureLatest', secret: false, description: 'Table holding the latest posture per device.' },
  { name: 'POSTURE_HISTORY_TABLE', required: false, default: 'PostureHistory', secret: false, description: 'Table holding the posture history per device.' },
  { name: 'POSTURE_DEADLETTER_TABLE', required: false, default: 'PostureDeadLetters', secret: false, description: 'Table holding notifications that could not be processed.' },
  { name: 'SECURITY_MODULE_ID', required: false, default: MICRO_AGENT_MODULE_ID, secret: false, description: 'Module identity of the security agent (DefenderIotMicroAgent, or azureiotsecurity for the legacy agent).' },
  { name: 'SECURITY_MODULE_BASELINE', required: false, default: '{}', secret: false, description: "JSON desired properties written to a newly created module's twin; validated against the agent schema." },
  { name: 'PROVISIONING_ENABLED', required: false, default: 'true', secret: false, description: 'Create the security module when a device lacks it (true/false/1/0). When false, posture is recorded only.' },
  { name: 'PROVISION_EDGE_DEVICES', required: false, default: 'false', secret: false, description: 'Also provision IoT Edge devices (true/false/1/0); Edge devices usually run the agent as an Edge module instead.' },
  { name: 'PROVISIONING_TARGET_CONDITION', required: false, secret: false, description: "Twin condition (IoT Hub query WHERE syntax) a device must match to be provisioned, e.g. tags.environment = 'prod'." },
  { name: 'REGISTRY_RETRY_BUDGET_MS', required: false, default: '60000', secret: false, description: 'Time budget for retrying throttled or failing IoT Hub calls in one invocation (1000–240000 ms; must stay below the function timeout).' },
  { name: 'POSTURE_WRITE_CONCURRENCY', required: false, default: '16', secret: false, description: 'Devices processed in parallel within a batch (1–256).' },
  { name: 'STALE_AGENT_HOURS', required: false, default: '24', secret: false, description: 'Hours without a reported update after which an agent counts as stale (1–8760).' },
  { name: 'LOG_LEVEL', required: false, default: 'info', secret: false, description: 'error, warn, info or debug.' },
  { name: 'COMPLIANCE_SWEEP_SCHEDULE', required: false, default: '0 0 2 * * *', secret: false, description: 'NCRONTAB (6 fields: second minute hour day month day-of-week, UTC) of the scheduled compliance sweep.' },
  { name: 'COMPLIANCE_SWEEP_QUEUE', required: false, default: 'twinguard-sweep-shards', secret: false, description: 'Storage queue (in AzureWebJobsStorage) carrying sweep plan, shard and finalize messages.' },
  { name: 'COMPLIANCE_SWEEP_SHARDS', required: false, default: '16', secret: false, description: 'Shards a sweep is split into; each runs as its own queue message, in parallel across instances (1–256).' },
  { name: 'SWEEP_BUCKET_DEVICES', required: false, default: '2000', secret: false, description: 'Target devices per deviceId range (bucket); a bucket is queried, joined and written as one unit (100–10000).' },
  { name: 'SWEEP_PAGE_SIZE', required: false, default: '5000', secret: false, description: 'Twin query page size (x-ms-max-item-count); keep above SWEEP_BUCKET_DEVICES so a bucket is one page (100–10000).' },
  { name: 'SWEEP_SHARD_TIME_BUDGET_SECONDS', required: false, default: '240', secret: false, description: 'A shard invocation stops starting new buckets after this long and re-enqueues itself (10–3600; keep well below the function timeout).' },
  { name: 'SWEEP_QUERIES_PER_MINUTE', required: false, default: '10', secret: false, description: "Twin queries a sweep may issue per minute per instance, so devices and other clients keep the rest of the hub's query quota (S1: 20/min/unit)." },
  { name: 'SWEEP_REGISTRY_OPS_PER_MINUTE', required: false, default: '50', secret: false, description: 'Registry and twin write operations (repairs) a sweep may issue per minute per instance (S1: 100/min/unit).' },
  { name: 'SWEEP_REPAIR_RULES', required: false, default: 'module-missing,baseline-not-applied', secret: false, description: 'Comma list of rule ids the sweep repairs (only module-missing and baseline-not-applied have a repair); empty or "none" repairs nothing.' },
  { name: 'SWEEP_BULK_IMPORT_THRESHOLD', required: false, default: '1000', secret: false, description: 'Above this many missing modules (estimated when the sweep is planned) modules are created by one IoT Hub import job instead of one call each (0–1000000).' },
  { name: 'SWEEP_IMPORT_CONTAINER', required: false, default: 'twinguard-module-import', secret: false, description: 'Blob container (in AzureWebJobsStorage) for import-job input and output; the hub reads it through a short-lived SAS URL.' },
  { name: 'INACTIVE_MODULE_HOURS', required: false, default: '72', secret: false, description: 'Hours a disconnected security module may go without activity before it is a finding (1–8760).' },
  { name: 'REQUIRED_MODULE_AUTH', required: false, default: 'any', secret: false, description: 'Weakest acceptable module authentication: any, or x509 (selfSigned or certificateAuthority; a SAS module is then a finding).' },
  { name: 'COMPLIANCE_RUNS_TABLE', required: false, default: 'SweepRuns', secret: false, description: 'Table of sweep runs, shard cursors and summaries.' },
  { name: 'COMPLIANCE_FINDINGS_TABLE', required: false, default: 'SweepFindings', secret: false, description: 'Table of per-device findings of each sweep.' },
  { name: 'COMPLIANCE_SUPPRESSIONS_TABLE', required: false, default: 'ComplianceSuppressions', secret: false, description: 'Table of operator suppressions (rule × device or tag selector, with reason and expiry).' },
] satisfies SettingDefinition[]);

/** Rule ids the sweep knows how to repair (shared/domain/compliance-rules.ts REPAIRABLE_RULES mirrors it). */
const REPAIRABLE_RULE_IDS = ['module-missing', 'baseline-not-applied'] as const;
const KNOWN_RULE_IDS = ['module-missing', 'identity-disabled', 'configuration-drift', 'agent-failed', 'baseline-not-applied', 'agent-stale', 'module-inactive', 'module-auth-weak'];
const NCRONTAB_FIELD = /^[0-9A-Za-z*/,-]+$/;
const QUEUE_NAME = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/;
const CONTAINER_NAME = QUEUE_NAME;

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export type IotHubAccess = { kind: 'connectionString'; hostName: string; connectionString: string } | { kind: 'identity'; hostName: string };

export type EventsAccess = { kind: 'connectionString'; namespace: string } | { kind: 'identity'; namespace: string };

export type StorageAccess =
  | { kind: 'connectionString'; source: 'POSTURE_STORAGE_CONNECTION' | 'AzureWebJobsStorage'; connectionString: string }
  | { kind: 'identity'; tableEndpoint: string };

export interface Config {
  readonly iotHub: { readonly access: IotHubAccess; readonly serviceEndpoint?: string };
  /** The trigger reads its settings itself; they are validated here so a bad value fails at startup. */
  readonly events: { readonly access: EventsAccess; readonly eventHubName: string; readonly consumerGroup: string };
  readonly storage: { readonly access: StorageAccess; readonly latestTable: string; readonly historyTable: string; readonly deadLetterTable: string };
  readonly securityModule: { readonly moduleId: string; readonly baseline: JsonObject; readonly schema: SecurityAgentSchema };
  readonly provisioning: { readonly enabled: boolean; readonly edgeDevices: boolean; readonly targetCondition?: TwinCondition };
  readonly registryRetryBudgetMs: number;
  readonly postureWriteConcurrency: number;
  readonly staleAgentHours: number;
  readonly logLevel: LogLevel;
  readonly compliance: ComplianceConfig;
  /** Every setting with its effective value, secrets redacted: safe to log at startup. */
  describe(): Record<string, string>;
}

export type RequiredModuleAuth = 'any' | 'x509';

/** Settings of the scheduled compliance sweep (see SETTINGS for meanings and ranges). */
export interface ComplianceConfig {
  readonly schedule: string;
  readonly queueName: string;
  readonly shards: number;
  readonly bucketDevices: number;
  readonly pageSize: number;
  readonly shardTimeBudgetMs: number;
  readonly queriesPerMinute: number;
  readonly registryOpsPerMinute: number;
  /** Rule ids repaired by the sweep; a subset of module-missing, baseline-not-applied. */
  readonly repairRules: readonly string[];
  readonly bulkImportThreshold: number;
  readonly importContainer: string;
  readonly inactiveModuleHours: number;
  readonly requiredModuleAuth: RequiredModuleAuth;
  readonly runsTable: string;
  readonly findingsTable: string;
  readonly suppressionsTable: string;
}

/**
 * Thrown by loadConfig with every problem found; the message lists them all. Problems name settings
 * and never quote a secret setting's value (messages from other validators pass through redactSecrets).
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Configuration is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((problem) => `- ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

type Env = Record<string, string | undefined>;

const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,62}$/;
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const DEFAULTS = new Map(SETTINGS.filter((setting) => setting.default !== undefined).map((setting) => [setting.name, setting.default as string]));
const SECRET_SETTINGS = new Set(SETTINGS.filter((setting) => setting.secret).map((setting) => setting.name));

/** App settings set to an empty string are treated as unset, as the portal leaves them. */
function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function notDefined(names: readonly string[]): string {
  if (names.length === 1) return `${names[0]} is not defined, make sure ${names[0]} is defined in the environment`;
  const list = `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
  return `${list} is not defined, make sure one of them is defined in the environment`;
}

/** `Key=value;…` with case-insensitive keys. Values are never echoed by callers. */
function parseConnectionString(text: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const segment of text.split(';')) {
    const equals = segment.indexOf('=');
    if (equals <= 0) continue;
    parts.set(segment.slice(0, equals).trim().toLowerCase(), segment.slice(equals + 1).trim());
  }
  return parts;
}

function missingParts(parts: Map<string, string>, required: readonly string[]): string[] {
  return required.filter((key) => !parts.get(key.toLowerCase()));
}

function parseHttpUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '' ? url : undefined;
  } catch {
    return undefined;
  }
}

class SettingsReader {
  readonly problems: string[] = [];
  constructor(readonly env: Env) {}

  boolean(name: string): boolean {
    const text = read(this.env, name) ?? DEFAULTS.get(name) ?? 'false';
    const lower = text.toLowerCase();
    if (lower === 'true' || lower === '1') return true;
    if (lower === 'false' || lower === '0') return false;
    this.problems.push(`${name} must be true, false, 1 or 0 (got "${text}")`);
    return lower === (DEFAULTS.get(name) ?? 'false');
  }

  integer(name: string, min: number, max: number): number | undefined {
    const text = read(this.env, name) ?? DEFAULTS.get(name);
    if (text === undefined) return undefined;
    const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max} (got "${text}")`);
      return Number(DEFAULTS.get(name) ?? min);
    }
    return value;
  }

  tableName(name: string): string {
    const value = read(this.env, name) ?? (DEFAULTS.get(name) as string);
    if (!TABLE_NAME.test(value) || value.toLowerCase() === 'tables') {
      this.problems.push(`${name} must be 3–63 letters and digits starting with a letter, and not "tables" (got "${value}")`);
    }
    return value;
  }

  iotHub(): Config['iotHub'] {
    const connectionString = read(this.env, 'IOTHUB_CONNECTION_STRING');
    const hostNameSetting = read(this.env, 'IOTHUB_HOST_NAME');
    let access: IotHubAccess = { kind: 'identity', hostName: hostNameSetting ?? '' };
    if (connectionString !== undefined) {
      const parts = parseConnectionString(connectionString);
      const missing = missingParts(parts, ['HostName', 'SharedAccessKeyName', 'SharedAccessKey']);
      if (parts.has('endpoint')) {
        this.problems.push('IOTHUB_CONNECTION_STRING is an Event Hub-compatible connection string; it must be the IoT Hub service connection string (HostName=…;SharedAccessKeyName=…;SharedAccessKey=…)');
      } else if (parts.has('deviceid')) {
        this.problems.push('IOTHUB_CONNECTION_STRING is a device connection string; it must be a service connection string with a shared access policy (HostName=…;SharedAccessKeyName=…;SharedAccessKey=…)');
      } else if (missing.length > 0) {
        this.problems.push(`IOTHUB_CONNECTION_STRING must have the form HostName=…;SharedAccessKeyName=…;SharedAccessKey=… (missing ${missing.join(', ')})`);
      } else if (!HOST_NAME.test(parts.get('hostname') ?? '')) {
        this.problems.push('IOTHUB_CONNECTION_STRING has a HostName that is not a host name');
      }
      const hostName = parts.get('hostname') ?? '';
      if (hostNameSetting !== undefined && hostName !== '' && hostNameSetting.toLowerCase() !== hostName.toLowerCase()) {
        this.problems.push(`IOTHUB_HOST_NAME "${hostNameSetting}" differs from the HostName in IOTHUB_CONNECTION_STRING; set only one of them`);
      }
      access = { kind: 'connectionString', hostName, connectionString };
    } else if (hostNameSetting === undefined) {
      this.problems.push(notDefined(['IOTHUB_CONNECTION_STRING', 'IOTHUB_HOST_NAME']));
    } else if (!HOST_NAME.test(hostNameSetting)) {
      this.problems.push(`IOTHUB_HOST_NAME must be a host name such as myhub.azure-devices.net, without scheme or path (got "${hostNameSetting}")`);
    }
    const endpointText = read(this.env, 'IOTHUB_SERVICE_ENDPOINT');
    if (endpointText === undefined) return { access };
    const endpoint = parseHttpUrl(endpointText);
    if (!endpoint || (endpoint.pathname !== '/' && endpoint.pathname !== '') || endpoint.search !== '') {
      this.problems.push('IOTHUB_SERVICE_ENDPOINT must be an http(s)://host:port URL without credentials or path');
      return { access };
    }
    return { access, serviceEndpoint: endpoint.origin };
  }

  events(): Config['events'] {
    const connectionString = read(this.env, 'IOTHUB_EVENTS_CONNECTION');
    const namespaceSetting = read(this.env, 'IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace');
    let eventHubName = read(this.env, 'IOTHUB_EVENTS_NAME');
    let access: EventsAccess = { kind: 'identity', namespace: namespaceSetting ?? '' };
    if (connectionString !== undefined) {
      const parts = parseConnectionString(connectionString);
      const endpoint = parseUrlLoose(parts.get('endpoint'));
      const hasKey = !missingParts(parts, ['SharedAccessKeyName', 'SharedAccessKey']).length || parts.has('sharedaccesssignature');
      if (parts.has('hostname')) {
        this.problems.push("IOTHUB_EVENTS_CONNECTION is an IoT Hub service connection string; it must be the built-in endpoint's Event Hub-compatible connection string (Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…;EntityPath=…)");
      } else if (!endpoint || endpoint.protocol !== 'sb:' || !hasKey) {
        this.problems.push('IOTHUB_EVENTS_CONNECTION must have the form Endpoint=sb://<namespace>/;SharedAccessKeyName=…;SharedAccessKey=…[;EntityPath=…]');
      }
      const entityPath = parts.get('entitypath');
      if (entityPath !== undefined && eventHubName !== undefined && entityPath !== eventHubName) {
        this.problems.push(`IOTHUB_EVENTS_NAME "${eventHubName}" differs from EntityPath "${entityPath}" in IOTHUB_EVENTS_CONNECTION; the trigger would use EntityPath`);
      }
      eventHubName ??= entityPath;
      access = { kind: 'connectionString', namespace: endpoint?.hostname ?? '' };
    } else if (namespaceSetting === undefined) {
      this.problems.push(notDefined(['IOTHUB_EVENTS_CONNECTION', 'IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace']));
    } else if (!HOST_NAME.test(namespaceSetting)) {
      this.problems.push(`IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace must be a host name such as ihsuprodxx000dednamespace.servicebus.windows.net (got "${namespaceSetting}")`);
    }
    if (eventHubName === undefined && (connectionString !== undefined || namespaceSetting !== undefined)) {
      this.problems.push(`${notDefined(['IOTHUB_EVENTS_NAME'])} (or include EntityPath in IOTHUB_EVENTS_CONNECTION)`);
    }
    const consumerGroup = read(this.env, 'IOTHUB_EVENTS_CONSUMER_GROUP') ?? (DEFAULTS.get('IOTHUB_EVENTS_CONSUMER_GROUP') as string);
    return { access, eventHubName: eventHubName ?? '', consumerGroup };
  }

  storage(): Config['storage'] {
    const explicit = read(this.env, 'POSTURE_STORAGE_CONNECTION');
    const endpointText = read(this.env, 'POSTURE_STORAGE_TABLE_ENDPOINT');
    const hostStorage = read(this.env, 'AzureWebJobsStorage');
    let access: StorageAccess;
    if (explicit !== undefined && endpointText !== undefined) {
      this.problems.push('POSTURE_STORAGE_CONNECTION and POSTURE_STORAGE_TABLE_ENDPOINT are both defined; set only one of them');
    }
    if (explicit !== undefined || (endpointText === undefined && hostStorage !== undefined)) {
      const source = explicit !== undefined ? 'POSTURE_STORAGE_CONNECTION' : 'AzureWebJobsStorage';
      const connectionString = (explicit ?? hostStorage) as string;
      const parts = parseConnectionString(connectionString);
      const usable = parts.get('usedevelopmentstorage')?.toLowerCase() === 'true' || parts.has('tableendpoint') || (parts.has('accountname') && (parts.has('accountkey') || parts.has('sharedaccesssignature')));
      if (!usable) {
        this.problems.push(`${source} must be a storage connection string (AccountName=…;AccountKey=…, a TableEndpoint with a SharedAccessSignature, or UseDevelopmentStorage=true)`);
      }
      access = { kind: 'connectionString', source, connectionString };
    } else if (endpointText !== undefined) {
      const endpoint = parseHttpUrl(endpointText);
      if (!endpoint || endpoint.search !== '') this.problems.push('POSTURE_STORAGE_TABLE_ENDPOINT must be an http(s) URL such as https://<account>.table.core.windows.net, without credentials or query');
      access = { kind: 'identity', tableEndpoint: endpoint ? endpoint.href.replace(/\/+$/, '') : '' };
    } else {
      this.problems.push(notDefined(['POSTURE_STORAGE_CONNECTION', 'POSTURE_STORAGE_TABLE_ENDPOINT', 'AzureWebJobsStorage']));
      access = { kind: 'identity', tableEndpoint: '' };
    }
    const latestTable = this.tableName('POSTURE_LATEST_TABLE');
    const historyTable = this.tableName('POSTURE_HISTORY_TABLE');
    const deadLetterTable = this.tableName('POSTURE_DEADLETTER_TABLE');
    // Table names are case-insensitive: two settings naming the same table would mix entity shapes.
    const names = [latestTable, historyTable, deadLetterTable].map((name) => name.toLowerCase());
    if (new Set(names).size !== names.length) {
      this.problems.push('POSTURE_LATEST_TABLE, POSTURE_HISTORY_TABLE and POSTURE_DEADLETTER_TABLE must name three different tables');
    }
    return { access, latestTable, historyTable, deadLetterTable };
  }

  securityModule(): Config['securityModule'] {
    const moduleId = read(this.env, 'SECURITY_MODULE_ID') ?? MICRO_AGENT_MODULE_ID;
    if (!isLegalIdentityId(moduleId) || moduleId.startsWith('$')) {
      this.problems.push(`SECURITY_MODULE_ID must be a module id: 1–128 letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ ', not starting with $ (got "${moduleId}")`);
      return { moduleId, baseline: {}, schema: 'microAgent' };
    }
    const validation = validateBaseline(read(this.env, 'SECURITY_MODULE_BASELINE') ?? '{}', moduleId);
    if (!validation.ok) {
      this.problems.push(...validation.problems.map(redactSecrets));
      return { moduleId, baseline: {}, schema: moduleId === MICRO_AGENT_MODULE_ID ? 'microAgent' : 'legacy' };
    }
    return { moduleId, baseline: validation.baseline, schema: validation.schema };
  }

  provisioning(): Config['provisioning'] {
    const enabled = this.boolean('PROVISIONING_ENABLED');
    const edgeDevices = this.boolean('PROVISION_EDGE_DEVICES');
    const conditionText = read(this.env, 'PROVISIONING_TARGET_CONDITION');
    if (conditionText === undefined) return { enabled, edgeDevices };
    try {
      return { enabled, edgeDevices, targetCondition: parseCondition(conditionText) };
    } catch (error) {
      if (!(error instanceof ConditionSyntaxError)) throw error;
      this.problems.push(`PROVISIONING_TARGET_CONDITION is not a valid condition: ${redactSecrets(error.message)}`);
      return { enabled, edgeDevices };
    }
  }

  compliance(storage: Config['storage']): ComplianceConfig {
    const schedule = read(this.env, 'COMPLIANCE_SWEEP_SCHEDULE') ?? (DEFAULTS.get('COMPLIANCE_SWEEP_SCHEDULE') as string);
    const fields = schedule.split(/\s+/);
    if (fields.length !== 6 || !fields.every((field) => NCRONTAB_FIELD.test(field))) {
      this.problems.push(`COMPLIANCE_SWEEP_SCHEDULE must be a 6-field NCRONTAB expression such as "0 0 2 * * *" (got "${schedule}")`);
    }
    const queueName = read(this.env, 'COMPLIANCE_SWEEP_QUEUE') ?? (DEFAULTS.get('COMPLIANCE_SWEEP_QUEUE') as string);
    if (!QUEUE_NAME.test(queueName)) this.problems.push(`COMPLIANCE_SWEEP_QUEUE must be a queue name: 3–63 lower-case letters, digits and single hyphens (got "${queueName}")`);
    const importContainer = read(this.env, 'SWEEP_IMPORT_CONTAINER') ?? (DEFAULTS.get('SWEEP_IMPORT_CONTAINER') as string);
    if (!CONTAINER_NAME.test(importContainer)) this.problems.push(`SWEEP_IMPORT_CONTAINER must be a container name: 3–63 lower-case letters, digits and single hyphens (got "${importContainer}")`);
    const repairText = read(this.env, 'SWEEP_REPAIR_RULES') ?? (DEFAULTS.get('SWEEP_REPAIR_RULES') as string);
    const repairRules = repairText.toLowerCase() === 'none' ? [] : [...new Set(repairText.split(',').map((rule) => rule.trim()).filter((rule) => rule !== ''))];
    for (const rule of repairRules) {
      if (!(REPAIRABLE_RULE_IDS as readonly string[]).includes(rule)) {
        const why = KNOWN_RULE_IDS.includes(rule) ? 'has no automatic repair' : 'is not a rule id';
        this.problems.push(`SWEEP_REPAIR_RULES: "${rule}" ${why} (repairable: ${REPAIRABLE_RULE_IDS.join(', ')})`);
      }
    }
    const authText = read(this.env, 'REQUIRED_MODULE_AUTH') ?? 'any';
    const requiredModuleAuth = authText.toLowerCase();
    if (requiredModuleAuth !== 'any' && requiredModuleAuth !== 'x509') this.problems.push(`REQUIRED_MODULE_AUTH must be any or x509 (got "${authText}")`);
    const bucketDevices = this.integer('SWEEP_BUCKET_DEVICES', 100, 10000) as number;
    const pageSize = this.integer('SWEEP_PAGE_SIZE', 100, 10000) as number;
    const runsTable = this.tableName('COMPLIANCE_RUNS_TABLE');
    const findingsTable = this.tableName('COMPLIANCE_FINDINGS_TABLE');
    const suppressionsTable = this.tableName('COMPLIANCE_SUPPRESSIONS_TABLE');
    const postureNames = new Set([storage.latestTable, storage.historyTable, storage.deadLetterTable].map((name) => name.toLowerCase()));
    const names = [runsTable, findingsTable, suppressionsTable].map((name) => name.toLowerCase());
    if (new Set(names).size !== names.length || names.some((name) => postureNames.has(name))) {
      this.problems.push('COMPLIANCE_RUNS_TABLE, COMPLIANCE_FINDINGS_TABLE and COMPLIANCE_SUPPRESSIONS_TABLE must name tables different from each other and from the posture tables');
    }
    return {
      schedule,
      queueName,
      shards: this.integer('COMPLIANCE_SWEEP_SHARDS', 1, 256) as number,
      bucketDevices,
      pageSize,
      shardTimeBudgetMs: (this.integer('SWEEP_SHARD_TIME_BUDGET_SECONDS', 10, 3600) as number) * 1000,
      queriesPerMinute: this.integer('SWEEP_QUERIES_PER_MINUTE', 1, 100000) as number,
      registryOpsPerMinute: this.integer('SWEEP_REGISTRY_OPS_PER_MINUTE', 1, 1000000) as number,
      repairRules,
      bulkImportThreshold: this.integer('SWEEP_BULK_IMPORT_THRESHOLD', 0, 1000000) as number,
      importContainer,
      inactiveModuleHours: this.integer('INACTIVE_MODULE_HOURS', 1, 8760) as number,
      requiredModuleAuth: requiredModuleAuth === 'x509' ? 'x509' : 'any',
      runsTable,
      findingsTable,
      suppressionsTable,
    };
  }

  logLevel(): LogLevel {
    const text = read(this.env, 'LOG_LEVEL') ?? 'info';
    const lower = text.toLowerCase();
    if (lower === 'error' || lower === 'warn' || lower === 'info' || lower === 'debug') return lower;
    this.problems.push(`LOG_LEVEL must be error, warn, info or debug (got "${text}")`);
    return 'info';
  }
}

function parseUrlLoose(text: string | undefined): URL | undefined {
  if (text === undefined) return undefined;
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** Connection-string parts that identify a resource without granting access; everything else is masked. */
const PUBLIC_CONNECTION_PARTS = new Set([
  'hostname', 'sharedaccesskeyname', 'endpoint', 'entitypath', 'accountname', 'defaultendpointsprotocol',
  'endpointsuffix', 'tableendpoint', 'blobendpoint', 'queueendpoint', 'fileendpoint', 'usedevelopmentstorage',
]);

/** Allow-list rather than deny-list: a malformed or unfamiliar secret is masked whole, never shown. */
function redactConnectionString(text: string): string {
  const masked = text.split(';').map((segment) => {
    if (segment.trim() === '') return segment;
    const equals = segment.indexOf('=');
    if (equals <= 0) return '***';
    const key = segment.slice(0, equals).trim();
    if (PUBLIC_CONNECTION_PARTS.has(key.toLowerCase())) return segment;
    // A "key" that is not a word is probably key material itself (base64 ends in '=').
    return /^[A-Za-z]+$/.test(key) ? `${key}=***` : '***';
  });
  return redactSecrets(masked.join(';'));
}

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
  const registryRetryBudgetMs = reader.integer('REGISTRY_RETRY_BUDGET_MS', 1000, 240000) as number;
  const postureWriteConcurrency = reader.integer('POSTURE_WRITE_CONCURRENCY', 1, 256) as number;
  const staleAgentHours = reader.integer('STALE_AGENT_HOURS', 1, 8760) as number;
  const logLevel = reader.logLevel();
  const compliance = reader.compliance(storage);
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
    registryRetryBudgetMs,
    postureWriteConcurrency,
    staleAgentHours,
    logLevel,
    compliance: Object.freeze({ ...compliance, repairRules: Object.freeze([...compliance.repairRules]) }),
    describe: () => describeSettings(snapshot),
  };
  return Object.freeze(config);
}

/**
 * The Event Hubs trigger's binding values, resolved when the function registers (the worker loads
 * the module with the app settings in its environment). Resolving here lets the consumer group
 * default to `twinguard` and the event hub name come from EntityPath, which a `%SETTING%` binding
 * expression could not do. Never throws: loadConfig reports bad values at first invocation.
 */
export function eventsTriggerBinding(env: Env): { eventHubName: string; consumerGroup: string } {
  const connection = read(env, 'IOTHUB_EVENTS_CONNECTION');
  const entityPath = connection ? parseConnectionString(connection).get('entitypath') : undefined;
  return {
    eventHubName: read(env, 'IOTHUB_EVENTS_NAME') ?? entityPath ?? '%IOTHUB_EVENTS_NAME%',
    consumerGroup: read(env, 'IOTHUB_EVENTS_CONSUMER_GROUP') ?? (DEFAULTS.get('IOTHUB_EVENTS_CONSUMER_GROUP') as string),
  };
}

/**
 * The compliance sweep triggers' binding values, resolved at registration like {@link eventsTriggerBinding} so an
 * unset setting falls back to its default instead of failing the host's `%SETTING%` resolution. Never throws.
 */
export function complianceTriggerBinding(env: Env): { schedule: string; queueName: string } {
  return {
    schedule: read(env, 'COMPLIANCE_SWEEP_SCHEDULE') ?? (DEFAULTS.get('COMPLIANCE_SWEEP_SCHEDULE') as string),
    queueName: read(env, 'COMPLIANCE_SWEEP_QUEUE') ?? (DEFAULTS.get('COMPLIANCE_SWEEP_QUEUE') as string),
  };
}
