/**
 * Reads one group of settings at a time from the environment, validating each and collecting every problem, so
 * loadConfig can report them all at once. Messages name settings and never quote a secret value.
 */
import { REPAIRABLE_RULES, RULE_IDS } from '../domain/rule-ids';
import { isLegalIdentityId } from '../domain/identifiers';
import { parseSchedule, ScheduleSyntaxError } from '../domain/ncrontab';
import { isContainerName, isQueueName, isTableName } from '../domain/storage-names';
import { MICRO_AGENT_MODULE_ID } from '../domain/security-module/module-ids';
import { validateBaseline } from '../domain/security-module/validate-baseline';
import { ConditionSyntaxError } from '../domain/iothub-query/condition-syntax-error';
import { parseCondition } from '../domain/iothub-query/twin-condition';
import { autoStormThreshold, HUB_TIERS } from '../domain/registration-storm';
import { redactSecrets } from '../logger';
import type { LogLevel } from '../log-level';
import { LOG_RECORD_EXPORT_MODES, type LogRecordExportMode } from '../telemetry/log-record-export';
import type { ComplianceConfig, Config, EventsAccess, IotHubAccess, StorageAccess } from './config';
import { missingParts, parseConnectionString } from './connection-string';
import { BindingExpressionError, resolveBindingExpression } from './resolve-binding-expression';
import { readSetting as read, type Env } from './environment';
import { SETTING_DEFAULTS as DEFAULTS } from './settings-catalogue';

const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** The catalogue default of a setting that has one (every caller names such a setting). */
function defaultOf(name: string): string {
  const value = DEFAULTS.get(name);
  if (value === undefined) throw new Error(`setting ${name} has no default in the catalogue`);
  return value;
}

function notDefined(names: readonly string[]): string {
  if (names.length === 1) return `${names[0]} is not defined, make sure ${names[0]} is defined in the environment`;
  const list = `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
  return `${list} is not defined, make sure one of them is defined in the environment`;
}

function parseHttpUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '' ? url : undefined;
  } catch {
    return undefined;
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

export class SettingsReader {
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
    const value = read(this.env, name) ?? defaultOf(name);
    if (!isTableName(value)) {
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
        this.problems.push(
          'IOTHUB_CONNECTION_STRING is an Event Hub-compatible connection string; it must be the IoT Hub service connection string (HostName=…;SharedAccessKeyName=…;SharedAccessKey=…)',
        );
      } else if (parts.has('deviceid')) {
        this.problems.push(
          'IOTHUB_CONNECTION_STRING is a device connection string; it must be a service connection string with a shared access policy (HostName=…;SharedAccessKeyName=…;SharedAccessKey=…)',
        );
      } else if (missing.length > 0) {
        this.problems.push(
          `IOTHUB_CONNECTION_STRING must have the form HostName=…;SharedAccessKeyName=…;SharedAccessKey=… (missing ${missing.join(', ')})`,
        );
      } else if (!HOST_NAME.test(parts.get('hostname') ?? '')) {
        this.problems.push('IOTHUB_CONNECTION_STRING has a HostName that is not a host name');
      }
      const hostName = parts.get('hostname') ?? '';
      if (hostNameSetting !== undefined && hostName !== '' && hostNameSetting.toLowerCase() !== hostName.toLowerCase()) {
        this.problems.push(
          `IOTHUB_HOST_NAME "${hostNameSetting}" differs from the HostName in IOTHUB_CONNECTION_STRING; set only one of them`,
        );
      }
      access = { kind: 'connectionString', hostName, connectionString };
    } else if (hostNameSetting === undefined) {
      this.problems.push(notDefined(['IOTHUB_CONNECTION_STRING', 'IOTHUB_HOST_NAME']));
    } else if (!HOST_NAME.test(hostNameSetting)) {
      this.problems.push(
        `IOTHUB_HOST_NAME must be a host name such as myhub.azure-devices.net, without scheme or path (got "${hostNameSetting}")`,
      );
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
        this.problems.push(
          "IOTHUB_EVENTS_CONNECTION is an IoT Hub service connection string; it must be the built-in endpoint's Event Hub-compatible connection string (Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…;EntityPath=…)",
        );
      } else if (!endpoint || endpoint.protocol !== 'sb:' || !hasKey) {
        this.problems.push(
          'IOTHUB_EVENTS_CONNECTION must have the form Endpoint=sb://<namespace>/;SharedAccessKeyName=…;SharedAccessKey=…[;EntityPath=…]',
        );
      }
      const entityPath = parts.get('entitypath');
      if (entityPath !== undefined && eventHubName !== undefined && entityPath !== eventHubName) {
        this.problems.push(
          `IOTHUB_EVENTS_NAME "${eventHubName}" differs from EntityPath "${entityPath}" in IOTHUB_EVENTS_CONNECTION; the trigger would use EntityPath`,
        );
      }
      eventHubName ??= entityPath;
      access = { kind: 'connectionString', namespace: endpoint?.hostname ?? '' };
    } else if (namespaceSetting === undefined) {
      this.problems.push(notDefined(['IOTHUB_EVENTS_CONNECTION', 'IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace']));
    } else if (!HOST_NAME.test(namespaceSetting)) {
      this.problems.push(
        `IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace must be a host name such as ihsuprodxx000dednamespace.servicebus.windows.net (got "${namespaceSetting}")`,
      );
    }
    if (eventHubName === undefined && (connectionString !== undefined || namespaceSetting !== undefined)) {
      this.problems.push(`${notDefined(['IOTHUB_EVENTS_NAME'])} (or include EntityPath in IOTHUB_EVENTS_CONNECTION)`);
    }
    const consumerGroup = read(this.env, 'IOTHUB_EVENTS_CONSUMER_GROUP') ?? defaultOf('IOTHUB_EVENTS_CONSUMER_GROUP');
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
      const usable =
        parts.get('usedevelopmentstorage')?.toLowerCase() === 'true' ||
        parts.has('tableendpoint') ||
        (parts.has('accountname') && (parts.has('accountkey') || parts.has('sharedaccesssignature')));
      if (!usable) {
        this.problems.push(
          `${source} must be a storage connection string (AccountName=…;AccountKey=…, a TableEndpoint with a SharedAccessSignature, or UseDevelopmentStorage=true)`,
        );
      }
      access = { kind: 'connectionString', source, connectionString };
    } else if (endpointText !== undefined) {
      const endpoint = parseHttpUrl(endpointText);
      if (!endpoint || endpoint.search !== '')
        this.problems.push(
          'POSTURE_STORAGE_TABLE_ENDPOINT must be an http(s) URL such as https://<account>.table.core.windows.net, without credentials or query',
        );
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
      this.problems.push(
        `SECURITY_MODULE_ID must be a module id: 1–128 letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ ', not starting with $ (got "${moduleId}")`,
      );
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

  storm(storage: Config['storage']): Config['storm'] {
    const tierText = read(this.env, 'IOTHUB_TIER') ?? defaultOf('IOTHUB_TIER');
    const tier = HUB_TIERS.find((candidate) => candidate === tierText.toUpperCase());
    if (!tier) this.problems.push(`IOTHUB_TIER must be S1, S2 or S3 (got "${tierText}")`);
    const units = this.integer('IOTHUB_UNITS', 1, 200) as number;
    const pendingTable = this.tableName('PENDING_PROVISIONING_TABLE');
    if (
      [storage.latestTable, storage.historyTable, storage.deadLetterTable].some((name) => name.toLowerCase() === pendingTable.toLowerCase())
    )
      this.problems.push('PENDING_PROVISIONING_TABLE must name a table different from the posture tables');
    const text = (read(this.env, 'REGISTRATION_STORM_THRESHOLD') ?? defaultOf('REGISTRATION_STORM_THRESHOLD')).toLowerCase();
    const base = { tier: tier ?? 'S1', units, pendingTable };
    if (text === 'off') return base;
    if (text === 'auto') return { ...base, threshold: autoStormThreshold(base.tier, units) };
    const threshold = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(threshold) || threshold > 100000) {
      this.problems.push(`REGISTRATION_STORM_THRESHOLD must be auto, off or a whole number from 0 to 100000 (got "${text}")`);
      return base;
    }
    return { ...base, threshold };
  }

  /**
   * COMPLIANCE_SWEEP_SCHEDULE as the timer fires it: `%SETTING%` references resolved against the environment
   * (the Functions host and the standalone host resolve them before parsing), then parsed by the one NCRONTAB
   * implementation the standalone host's scheduler uses (shared/domain/ncrontab.ts: 6 or 5 fields, UTC).
   */
  private schedule(): string {
    const setting = read(this.env, 'COMPLIANCE_SWEEP_SCHEDULE') ?? defaultOf('COMPLIANCE_SWEEP_SCHEDULE');
    let schedule: string;
    try {
      schedule = resolveBindingExpression(setting, this.env);
    } catch (error) {
      if (!(error instanceof BindingExpressionError)) throw error;
      this.problems.push(`COMPLIANCE_SWEEP_SCHEDULE: ${error.message} (got "${redactSecrets(setting)}")`);
      return setting;
    }
    try {
      parseSchedule(schedule);
    } catch (error) {
      if (!(error instanceof ScheduleSyntaxError)) throw error;
      const got = schedule === setting ? `"${setting}"` : `"${schedule}" from "${setting}"`;
      this.problems.push(
        `COMPLIANCE_SWEEP_SCHEDULE must be an NCRONTAB expression such as "0 0 2 * * *": ${redactSecrets(error.message)} (got ${redactSecrets(got)})`,
      );
    }
    return schedule;
  }

  compliance(storage: Config['storage']): ComplianceConfig {
    const schedule = this.schedule();
    const queueName = read(this.env, 'COMPLIANCE_SWEEP_QUEUE') ?? defaultOf('COMPLIANCE_SWEEP_QUEUE');
    if (!isQueueName(queueName))
      this.problems.push(
        `COMPLIANCE_SWEEP_QUEUE must be a queue name: 3–63 lower-case letters, digits and single hyphens (got "${queueName}")`,
      );
    const importContainer = read(this.env, 'SWEEP_IMPORT_CONTAINER') ?? defaultOf('SWEEP_IMPORT_CONTAINER');
    if (!isContainerName(importContainer))
      this.problems.push(
        `SWEEP_IMPORT_CONTAINER must be a container name: 3–63 lower-case letters, digits and single hyphens (got "${importContainer}")`,
      );
    const repairText = read(this.env, 'SWEEP_REPAIR_RULES') ?? defaultOf('SWEEP_REPAIR_RULES');
    const repairRules =
      repairText.toLowerCase() === 'none'
        ? []
        : [
            ...new Set(
              repairText
                .split(',')
                .map((rule) => rule.trim())
                .filter((rule) => rule !== ''),
            ),
          ];
    for (const rule of repairRules) {
      if (!(REPAIRABLE_RULES as readonly string[]).includes(rule)) {
        const why = (RULE_IDS as readonly string[]).includes(rule) ? 'has no automatic repair' : 'is not a rule id';
        this.problems.push(`SWEEP_REPAIR_RULES: "${rule}" ${why} (repairable: ${REPAIRABLE_RULES.join(', ')})`);
      }
    }
    const authText = read(this.env, 'REQUIRED_MODULE_AUTH') ?? 'any';
    const requiredModuleAuth = authText.toLowerCase();
    if (requiredModuleAuth !== 'any' && requiredModuleAuth !== 'x509')
      this.problems.push(`REQUIRED_MODULE_AUTH must be any or x509 (got "${authText}")`);
    const bucketDevices = this.integer('SWEEP_BUCKET_DEVICES', 100, 10000) as number;
    const pageSize = this.integer('SWEEP_PAGE_SIZE', 100, 10000) as number;
    const runsTable = this.tableName('COMPLIANCE_RUNS_TABLE');
    const findingsTable = this.tableName('COMPLIANCE_FINDINGS_TABLE');
    const suppressionsTable = this.tableName('COMPLIANCE_SUPPRESSIONS_TABLE');
    const postureNames = new Set([storage.latestTable, storage.historyTable, storage.deadLetterTable].map((name) => name.toLowerCase()));
    const names = [runsTable, findingsTable, suppressionsTable].map((name) => name.toLowerCase());
    if (new Set(names).size !== names.length || names.some((name) => postureNames.has(name))) {
      this.problems.push(
        'COMPLIANCE_RUNS_TABLE, COMPLIANCE_FINDINGS_TABLE and COMPLIANCE_SUPPRESSIONS_TABLE must name tables different from each other and from the posture tables',
      );
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
      retentionDays: this.integer('COMPLIANCE_RETENTION_DAYS', 1, 3650) as number,
      inactiveModuleHours: this.integer('INACTIVE_MODULE_HOURS', 1, 8760) as number,
      requiredModuleAuth: requiredModuleAuth === 'x509' ? 'x509' : 'any',
      runsTable,
      findingsTable,
      suppressionsTable,
    };
  }

  logRecordExport(): LogRecordExportMode {
    const text = read(this.env, 'TELEMETRY_LOG_RECORDS') ?? DEFAULTS.get('TELEMETRY_LOG_RECORDS') ?? 'auto';
    const lower = text.toLowerCase();
    const mode = LOG_RECORD_EXPORT_MODES.find((candidate) => candidate === lower);
    if (mode) return mode;
    this.problems.push(`TELEMETRY_LOG_RECORDS must be ${LOG_RECORD_EXPORT_MODES.join(', ')} (got "${text}")`);
    return 'auto';
  }

  logLevel(): LogLevel {
    const text = read(this.env, 'LOG_LEVEL') ?? 'info';
    const lower = text.toLowerCase();
    if (lower === 'error' || lower === 'warn' || lower === 'info' || lower === 'debug') return lower;
    this.problems.push(`LOG_LEVEL must be error, warn, info or debug (got "${text}")`);
    return 'info';
  }
}
