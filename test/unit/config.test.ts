import { ConfigError } from '../../shared/config/config-error';
import { loadConfig } from '../../shared/config/load-config';
import { SETTINGS } from '../../shared/config/settings-catalogue';

const HUB_KEY = 'c2VydmljZS1rZXktbmV2ZXItbG9nZ2VkLTAxMjM0NTY3ODk=';
const EVENTS_KEY = 'ZXZlbnRzLWtleS1uZXZlci1sb2dnZWQtOTg3NjU0MzIxMA==';
const STORAGE_KEY = 'c3RvcmFnZS1rZXktbmV2ZXItbG9nZ2VkLWFiY2RlZmdoaWo=';

const IOTHUB_CONNECTION_STRING = `HostName=contoso.azure-devices.net;SharedAccessKeyName=service;SharedAccessKey=${HUB_KEY}`;
const IOTHUB_EVENTS_CONNECTION = `Endpoint=sb://ihsuprodxx000dednamespace.servicebus.windows.net/;SharedAccessKeyName=service;SharedAccessKey=${EVENTS_KEY};EntityPath=iothub-ehub-contoso-1234-abcdef`;
const STORAGE_CONNECTION = `DefaultEndpointsProtocol=https;AccountName=contosoposture;AccountKey=${STORAGE_KEY};EndpointSuffix=core.windows.net`;

const MINIMAL: Record<string, string> = {
  IOTHUB_CONNECTION_STRING,
  IOTHUB_EVENTS_CONNECTION,
  POSTURE_STORAGE_CONNECTION: STORAGE_CONNECTION,
};

function problemsOf(env: Record<string, string | undefined>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('loadConfig accepted the environment');
}

describe('loadConfig: defaults', () => {
  const config = loadConfig(MINIMAL);

  it('applies every documented default', () => {
    expect({
      consumerGroup: config.events.consumerGroup,
      latestTable: config.storage.latestTable,
      historyTable: config.storage.historyTable,
      deadLetterTable: config.storage.deadLetterTable,
      moduleId: config.securityModule.moduleId,
      baseline: config.securityModule.baseline,
      schema: config.securityModule.schema,
      provisioning: config.provisioning,
      registryRetryBudgetMs: config.registryRetryBudgetMs,
      postureWriteConcurrency: config.postureWriteConcurrency,
      staleAgentHours: config.staleAgentHours,
      logLevel: config.logLevel,
    }).toEqual({
      consumerGroup: 'twinguard',
      latestTable: 'PostureLatest',
      historyTable: 'PostureHistory',
      deadLetterTable: 'PostureDeadLetters',
      moduleId: 'DefenderIotMicroAgent',
      baseline: {},
      schema: 'microAgent',
      provisioning: { enabled: true, edgeDevices: false },
      registryRetryBudgetMs: 60000,
      postureWriteConcurrency: 16,
      staleAgentHours: 24,
      logLevel: 'info',
    });
  });

  it('the defaults in SETTINGS are the values loadConfig applies', () => {
    const defaults = Object.fromEntries(
      SETTINGS.filter((setting) => setting.default !== undefined).map((setting) => [setting.name, setting.default]),
    );
    expect(defaults).toEqual({
      IOTHUB_EVENTS_CONSUMER_GROUP: 'twinguard',
      POSTURE_LATEST_TABLE: 'PostureLatest',
      POSTURE_HISTORY_TABLE: 'PostureHistory',
      POSTURE_DEADLETTER_TABLE: 'PostureDeadLetters',
      SECURITY_MODULE_ID: 'DefenderIotMicroAgent',
      SECURITY_MODULE_BASELINE: '{}',
      PROVISIONING_ENABLED: 'true',
      PROVISION_EDGE_DEVICES: 'false',
      REGISTRATION_STORM_THRESHOLD: 'auto',
      IOTHUB_TIER: 'S1',
      IOTHUB_UNITS: '1',
      PENDING_PROVISIONING_TABLE: 'PendingProvisioning',
      REGISTRY_RETRY_BUDGET_MS: '60000',
      OUTBOUND_TIMEOUT_MS: '10000',
      API_RETRY_BUDGET_MS: '5000',
      POSTURE_WRITE_CONCURRENCY: '16',
      STALE_AGENT_HOURS: '24',
      LOG_LEVEL: 'info',
      COMPLIANCE_SWEEP_SCHEDULE: '0 0 2 * * *',
      COMPLIANCE_SWEEP_QUEUE: 'twinguard-sweep-shards',
      COMPLIANCE_SWEEP_SHARDS: '16',
      SWEEP_BUCKET_DEVICES: '2000',
      SWEEP_PAGE_SIZE: '5000',
      SWEEP_SHARD_TIME_BUDGET_SECONDS: '240',
      SWEEP_QUERIES_PER_MINUTE: '10',
      SWEEP_REGISTRY_OPS_PER_MINUTE: '50',
      SWEEP_REPAIR_RULES: 'module-missing,baseline-not-applied',
      SWEEP_BULK_IMPORT_THRESHOLD: '1000',
      SWEEP_IMPORT_CONTAINER: 'twinguard-module-import',
      COMPLIANCE_RETENTION_DAYS: '90',
      INACTIVE_MODULE_HOURS: '72',
      REQUIRED_MODULE_AUTH: 'any',
      COMPLIANCE_RUNS_TABLE: 'SweepRuns',
      COMPLIANCE_FINDINGS_TABLE: 'SweepFindings',
      COMPLIANCE_SUPPRESSIONS_TABLE: 'ComplianceSuppressions',
      TELEMETRY_LOG_RECORDS: 'auto',
      SWEEP_MITIGATION_RULES: 'none',
      MITIGATION_ALLOW_DISRUPTIVE: 'false',
      MITIGATION_QUARANTINE_TAG: 'twinguard.quarantine',
      MITIGATION_AUDIT_TABLE: 'MitigationAudit',
      ALERT_SINK: 'none',
      ALERT_QUEUE_NAME: 'twinguard-alerts',
      ALERT_COMPLIANCE_DROP_POINTS: '10',
      ALERT_MAX_ATTEMPTS: '8',
      ALERT_OUTBOX_TABLE: 'AlertOutbox',
    });
  });

  it('applies the compliance sweep defaults', () => {
    expect(config.compliance).toEqual({
      schedule: '0 0 2 * * *',
      queueName: 'twinguard-sweep-shards',
      shards: 16,
      bucketDevices: 2000,
      pageSize: 5000,
      shardTimeBudgetMs: 240000,
      queriesPerMinute: 10,
      registryOpsPerMinute: 50,
      repairRules: ['module-missing', 'baseline-not-applied'],
      bulkImportThreshold: 1000,
      importContainer: 'twinguard-module-import',
      retentionDays: 90,
      inactiveModuleHours: 72,
      requiredModuleAuth: 'any',
      runsTable: 'SweepRuns',
      findingsTable: 'SweepFindings',
      suppressionsTable: 'ComplianceSuppressions',
    });
  });

  it('reads the access settings', () => {
    expect(config.iotHub).toEqual({
      access: { kind: 'connectionString', hostName: 'contoso.azure-devices.net', connectionString: IOTHUB_CONNECTION_STRING },
    });
    expect(config.events).toEqual({
      access: { kind: 'connectionString', namespace: 'ihsuprodxx000dednamespace.servicebus.windows.net' },
      eventHubName: 'iothub-ehub-contoso-1234-abcdef',
      consumerGroup: 'twinguard',
    });
    expect(config.storage.access).toEqual({
      kind: 'connectionString',
      source: 'POSTURE_STORAGE_CONNECTION',
      connectionString: STORAGE_CONNECTION,
    });
  });

  it('is frozen', () => {
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.storage)).toBe(true);
    expect(Object.isFrozen(config.securityModule.baseline)).toBe(true);
    expect(() => {
      (config as { logLevel: string }).logLevel = 'debug';
    }).toThrow(TypeError);
  });
});

describe('loadConfig: alternatives and fallbacks', () => {
  it('falls back to AzureWebJobsStorage for the posture tables', () => {
    const config = loadConfig({ ...MINIMAL, POSTURE_STORAGE_CONNECTION: undefined, AzureWebJobsStorage: 'UseDevelopmentStorage=true' });
    expect(config.storage.access).toEqual({
      kind: 'connectionString',
      source: 'AzureWebJobsStorage',
      connectionString: 'UseDevelopmentStorage=true',
    });
  });

  it('prefers an explicit table endpoint (managed identity) over the AzureWebJobsStorage fallback', () => {
    const config = loadConfig({
      ...MINIMAL,
      POSTURE_STORAGE_CONNECTION: '',
      POSTURE_STORAGE_TABLE_ENDPOINT: 'https://contosoposture.table.core.windows.net/',
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    });
    expect(config.storage.access).toEqual({ kind: 'identity', tableEndpoint: 'https://contosoposture.table.core.windows.net' });
  });

  it('accepts identity-based IoT Hub and trigger settings', () => {
    const config = loadConfig({
      IOTHUB_HOST_NAME: 'contoso.azure-devices.net',
      IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace: 'ihsuprodxx000dednamespace.servicebus.windows.net',
      IOTHUB_EVENTS_NAME: 'iothub-ehub-contoso-1234-abcdef',
      IOTHUB_EVENTS_CONSUMER_GROUP: 'posture',
      POSTURE_STORAGE_TABLE_ENDPOINT: 'https://contosoposture.table.core.windows.net',
    });
    expect(config.iotHub.access).toEqual({ kind: 'identity', hostName: 'contoso.azure-devices.net' });
    expect(config.events).toEqual({
      access: { kind: 'identity', namespace: 'ihsuprodxx000dednamespace.servicebus.windows.net' },
      eventHubName: 'iothub-ehub-contoso-1234-abcdef',
      consumerGroup: 'posture',
    });
  });

  it.each([
    ['TRUE', true],
    ['true', true],
    ['1', true],
    ['False', false],
    ['0', false],
    [' false ', false],
  ])('booleans: %j → %p', (text, expected) => {
    expect(loadConfig({ ...MINIMAL, PROVISION_EDGE_DEVICES: text }).provisioning.edgeDevices).toBe(expected);
  });

  it('parses a provisioning target condition', () => {
    expect(loadConfig({ ...MINIMAL, PROVISIONING_TARGET_CONDITION: "tags.environment = 'prod'" }).provisioning.targetCondition?.text).toBe(
      "tags.environment = 'prod'",
    );
  });

  it('takes the legacy module id and reads it with the legacy schema', () => {
    expect(loadConfig({ ...MINIMAL, SECURITY_MODULE_ID: 'azureiotsecurity' }).securityModule).toEqual({
      moduleId: 'azureiotsecurity',
      baseline: {},
      schema: 'legacy',
    });
  });

  it('treats empty settings as unset', () => {
    expect(loadConfig({ ...MINIMAL, LOG_LEVEL: '', POSTURE_WRITE_CONCURRENCY: '  ' })).toMatchObject({
      logLevel: 'info',
      postureWriteConcurrency: 16,
    });
  });
});

describe('loadConfig: compliance sweep', () => {
  it.each<[Record<string, string>, Partial<ReturnType<typeof loadConfig>['compliance']>]>([
    [{ SWEEP_REPAIR_RULES: 'none' }, { repairRules: [] }],
    [{ SWEEP_REPAIR_RULES: ' module-missing , module-missing' }, { repairRules: ['module-missing'] }],
    [{ REQUIRED_MODULE_AUTH: 'X509' }, { requiredModuleAuth: 'x509' }],
    [{ COMPLIANCE_RETENTION_DAYS: '1' }, { retentionDays: 1 }],
    [{ COMPLIANCE_RETENTION_DAYS: '3650' }, { retentionDays: 3650 }],
    [
      { SWEEP_SHARD_TIME_BUDGET_SECONDS: '60', COMPLIANCE_SWEEP_SCHEDULE: '0 */30 * * * *' },
      { shardTimeBudgetMs: 60000, schedule: '0 */30 * * * *' },
    ],
    // The timer scheduler's own parser validates: five fields (second 0) are accepted as the Functions host accepts them.
    [{ COMPLIANCE_SWEEP_SCHEDULE: '30 2 * * mon-fri' }, { schedule: '30 2 * * mon-fri' }],
    [{ COMPLIANCE_SWEEP_SCHEDULE: '0 0 0 13 * Friday' }, { schedule: '0 0 0 13 * Friday' }],
    // A %SETTING% reference is resolved before validating, as both hosts resolve it before parsing.
    [{ COMPLIANCE_SWEEP_SCHEDULE: '%SWEEP_CRON%', SWEEP_CRON: '0 30 1 * * sun' }, { schedule: '0 30 1 * * sun' }],
    [{ COMPLIANCE_SWEEP_SCHEDULE: '0 0 %SWEEP_HOUR% * * *', SWEEP_HOUR: '4' }, { schedule: '0 0 4 * * *' }],
  ])('reads %j', (env, expected) => {
    expect(loadConfig({ ...MINIMAL, ...env }).compliance).toMatchObject(expected);
  });

  it.each([
    [
      { SWEEP_REPAIR_RULES: 'agent-stale' },
      'SWEEP_REPAIR_RULES: "agent-stale" has no automatic repair (repairable: module-missing, baseline-not-applied)',
    ],
    [{ SWEEP_REPAIR_RULES: 'nope' }, 'SWEEP_REPAIR_RULES: "nope" is not a rule id (repairable: module-missing, baseline-not-applied)'],
    [{ REQUIRED_MODULE_AUTH: 'sas' }, 'REQUIRED_MODULE_AUTH must be any or x509 (got "sas")'],
    [
      { COMPLIANCE_SWEEP_SCHEDULE: '99 * * * * *' },
      'COMPLIANCE_SWEEP_SCHEDULE must be an NCRONTAB expression such as "0 0 2 * * *": second: 99 is outside 0-59 (got "99 * * * * *")',
    ],
    [
      { COMPLIANCE_SWEEP_SCHEDULE: '0 2 * *' },
      'COMPLIANCE_SWEEP_SCHEDULE must be an NCRONTAB expression such as "0 0 2 * * *": "0 2 * *" has 4 fields; NCRONTAB takes 6 (second minute hour day month day-of-week) or 5 (minute hour day month day-of-week, at second 0) (got "0 2 * *")',
    ],
    [
      { COMPLIANCE_SWEEP_SCHEDULE: '0 0 0 * * 7' },
      'COMPLIANCE_SWEEP_SCHEDULE must be an NCRONTAB expression such as "0 0 2 * * *": day-of-week: 7 is outside 0-6 (Sunday is 0) (got "0 0 0 * * 7")',
    ],
    [
      { COMPLIANCE_SWEEP_SCHEDULE: '0 0 0 31 feb *' },
      'COMPLIANCE_SWEEP_SCHEDULE must be an NCRONTAB expression such as "0 0 2 * * *": "0 0 0 31 feb *" never fires: no month in it has any of its days (got "0 0 0 31 feb *")',
    ],
    [
      { COMPLIANCE_SWEEP_SCHEDULE: '%SWEEP_CRON%', SWEEP_CRON: '99 * * * * *' },
      'COMPLIANCE_SWEEP_SCHEDULE must be an NCRONTAB expression such as "0 0 2 * * *": second: 99 is outside 0-59 (got "99 * * * * *" from "%SWEEP_CRON%")',
    ],
    [
      { COMPLIANCE_SWEEP_SCHEDULE: '%SWEEP_CRON%' },
      'COMPLIANCE_SWEEP_SCHEDULE: binding expression %SWEEP_CRON% refers to an app setting that is not defined (got "%SWEEP_CRON%")',
    ],
    [
      { COMPLIANCE_SWEEP_QUEUE: 'Bad_Queue' },
      'COMPLIANCE_SWEEP_QUEUE must be a queue name: 3–63 lower-case letters, digits and single hyphens (got "Bad_Queue")',
    ],
    [{ COMPLIANCE_SWEEP_SHARDS: '0' }, 'COMPLIANCE_SWEEP_SHARDS must be a whole number from 1 to 256 (got "0")'],
    [{ COMPLIANCE_RETENTION_DAYS: '0' }, 'COMPLIANCE_RETENTION_DAYS must be a whole number from 1 to 3650 (got "0")'],
    [{ COMPLIANCE_RETENTION_DAYS: '3651' }, 'COMPLIANCE_RETENTION_DAYS must be a whole number from 1 to 3650 (got "3651")'],
    [
      { COMPLIANCE_FINDINGS_TABLE: 'PostureLatest' },
      'COMPLIANCE_RUNS_TABLE, COMPLIANCE_FINDINGS_TABLE and COMPLIANCE_SUPPRESSIONS_TABLE must name tables different from each other and from the posture tables',
    ],
  ])('rejects %j', (env, problem) => {
    expect(problemsOf({ ...MINIMAL, ...env })).toEqual([problem]);
  });
});

describe('loadConfig: problems', () => {
  it('reports every missing required setting at once', () => {
    expect(problemsOf({})).toEqual([
      'IOTHUB_CONNECTION_STRING or IOTHUB_HOST_NAME is not defined, make sure one of them is defined in the environment',
      'IOTHUB_EVENTS_CONNECTION or IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace is not defined, make sure one of them is defined in the environment',
      'POSTURE_STORAGE_CONNECTION, POSTURE_STORAGE_TABLE_ENDPOINT or AzureWebJobsStorage is not defined, make sure one of them is defined in the environment',
    ]);
  });

  it('lists all problems in the error message', () => {
    expect(() => loadConfig({ ...MINIMAL, LOG_LEVEL: 'loud', STALE_AGENT_HOURS: '0' })).toThrow(
      'Configuration is invalid (2 problems):\n- STALE_AGENT_HOURS must be a whole number from 1 to 8760 (got "0")\n- LOG_LEVEL must be error, warn, info or debug (got "loud")',
    );
  });

  it.each<[string, Record<string, string | undefined>, string]>([
    [
      'IoT Hub string without key',
      { IOTHUB_CONNECTION_STRING: 'HostName=contoso.azure-devices.net;SharedAccessKeyName=service' },
      'IOTHUB_CONNECTION_STRING must have the form HostName=…;SharedAccessKeyName=…;SharedAccessKey=… (missing SharedAccessKey)',
    ],
    [
      'device connection string',
      { IOTHUB_CONNECTION_STRING: `HostName=contoso.azure-devices.net;DeviceId=d1;SharedAccessKey=${HUB_KEY}` },
      'IOTHUB_CONNECTION_STRING is a device connection string; it must be a service connection string with a shared access policy (HostName=…;SharedAccessKeyName=…;SharedAccessKey=…)',
    ],
    [
      'Event Hub string as the IoT Hub string',
      { IOTHUB_CONNECTION_STRING: IOTHUB_EVENTS_CONNECTION },
      'IOTHUB_CONNECTION_STRING is an Event Hub-compatible connection string; it must be the IoT Hub service connection string (HostName=…;SharedAccessKeyName=…;SharedAccessKey=…)',
    ],
    [
      'host name with scheme',
      { IOTHUB_CONNECTION_STRING: undefined, IOTHUB_HOST_NAME: 'https://contoso.azure-devices.net' },
      'IOTHUB_HOST_NAME must be a host name such as myhub.azure-devices.net, without scheme or path (got "https://contoso.azure-devices.net")',
    ],
    [
      'conflicting host names',
      { IOTHUB_HOST_NAME: 'other.azure-devices.net' },
      'IOTHUB_HOST_NAME "other.azure-devices.net" differs from the HostName in IOTHUB_CONNECTION_STRING; set only one of them',
    ],
    [
      'emulator endpoint with a path',
      { IOTHUB_SERVICE_ENDPOINT: 'http://localhost:8080/api' },
      'IOTHUB_SERVICE_ENDPOINT must be an http(s)://host:port URL without credentials or path',
    ],
    [
      'IoT Hub string as the events string',
      { IOTHUB_EVENTS_CONNECTION: IOTHUB_CONNECTION_STRING, IOTHUB_EVENTS_NAME: 'iothub-ehub-contoso-1234-abcdef' },
      "IOTHUB_EVENTS_CONNECTION is an IoT Hub service connection string; it must be the built-in endpoint's Event Hub-compatible connection string (Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…;EntityPath=…)",
    ],
    [
      'events string without key',
      { IOTHUB_EVENTS_CONNECTION: 'Endpoint=sb://ns.servicebus.windows.net/;EntityPath=x' },
      'IOTHUB_EVENTS_CONNECTION must have the form Endpoint=sb://<namespace>/;SharedAccessKeyName=…;SharedAccessKey=…[;EntityPath=…]',
    ],
    [
      'events name differing from EntityPath',
      { IOTHUB_EVENTS_NAME: 'other' },
      'IOTHUB_EVENTS_NAME "other" differs from EntityPath "iothub-ehub-contoso-1234-abcdef" in IOTHUB_EVENTS_CONNECTION; the trigger would use EntityPath',
    ],
    [
      'events name missing',
      { IOTHUB_EVENTS_CONNECTION: `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=s;SharedAccessKey=${EVENTS_KEY}` },
      'IOTHUB_EVENTS_NAME is not defined, make sure IOTHUB_EVENTS_NAME is defined in the environment (or include EntityPath in IOTHUB_EVENTS_CONNECTION)',
    ],
    [
      'both storage forms',
      { POSTURE_STORAGE_TABLE_ENDPOINT: 'https://a.table.core.windows.net' },
      'POSTURE_STORAGE_CONNECTION and POSTURE_STORAGE_TABLE_ENDPOINT are both defined; set only one of them',
    ],
    [
      'storage string without account',
      { POSTURE_STORAGE_CONNECTION: `AccountKey=${STORAGE_KEY}` },
      'POSTURE_STORAGE_CONNECTION must be a storage connection string (AccountName=…;AccountKey=…, a TableEndpoint with a SharedAccessSignature, or UseDevelopmentStorage=true)',
    ],
    [
      'table endpoint not a URL',
      { POSTURE_STORAGE_CONNECTION: undefined, POSTURE_STORAGE_TABLE_ENDPOINT: 'contosoposture' },
      'POSTURE_STORAGE_TABLE_ENDPOINT must be an http(s) URL such as https://<account>.table.core.windows.net, without credentials or query',
    ],
    [
      'table name with a dash',
      { POSTURE_LATEST_TABLE: 'posture-latest' },
      'POSTURE_LATEST_TABLE must be 3–63 letters and digits starting with a letter, and not "tables" (got "posture-latest")',
    ],
    [
      'reserved table name',
      { POSTURE_HISTORY_TABLE: 'Tables' },
      'POSTURE_HISTORY_TABLE must be 3–63 letters and digits starting with a letter, and not "tables" (got "Tables")',
    ],
    [
      'two settings naming one table',
      { POSTURE_DEADLETTER_TABLE: 'posturelatest' },
      'POSTURE_LATEST_TABLE, POSTURE_HISTORY_TABLE and POSTURE_DEADLETTER_TABLE must name three different tables',
    ],
    [
      'module id with a slash',
      { SECURITY_MODULE_ID: 'agent/1' },
      'SECURITY_MODULE_ID must be a module id: 1–128 letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ \', not starting with $ (got "agent/1")',
    ],
    [
      'system module id',
      { SECURITY_MODULE_ID: '$edgeAgent' },
      'SECURITY_MODULE_ID must be a module id: 1–128 letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ \', not starting with $ (got "$edgeAgent")',
    ],
    ['boolean word', { PROVISIONING_ENABLED: 'yes' }, 'PROVISIONING_ENABLED must be true, false, 1 or 0 (got "yes")'],
    [
      'retry budget too large',
      { REGISTRY_RETRY_BUDGET_MS: '600000' },
      'REGISTRY_RETRY_BUDGET_MS must be a whole number from 1000 to 240000 (got "600000")',
    ],
    [
      'outbound timeout too small',
      { OUTBOUND_TIMEOUT_MS: '999' },
      'OUTBOUND_TIMEOUT_MS must be a whole number from 1000 to 120000 (got "999")',
    ],
    [
      'API retry budget too large',
      { API_RETRY_BUDGET_MS: '60001' },
      'API_RETRY_BUDGET_MS must be a whole number from 1000 to 60000 (got "60001")',
    ],
    [
      'concurrency not a number',
      { POSTURE_WRITE_CONCURRENCY: 'many' },
      'POSTURE_WRITE_CONCURRENCY must be a whole number from 1 to 256 (got "many")',
    ],
    ['log level', { LOG_LEVEL: 'trace' }, 'LOG_LEVEL must be error, warn, info or debug (got "trace")'],
    ['log record export', { TELEMETRY_LOG_RECORDS: 'sometimes' }, 'TELEMETRY_LOG_RECORDS must be auto, on, off (got "sometimes")'],
  ])('%s', (_label, overrides, problem) => {
    expect(problemsOf({ ...MINIMAL, ...overrides })).toEqual([problem]);
  });

  it('reports a condition syntax error as a problem', () => {
    const [problem, ...rest] = problemsOf({ ...MINIMAL, PROVISIONING_TARGET_CONDITION: "tags.environment = = 'prod'" });
    expect(rest).toEqual([]);
    expect(problem).toMatch(/^PROVISIONING_TARGET_CONDITION is not a valid condition: .+/);
  });

  it('reports baseline problems from the security-module validator', () => {
    const [problem, ...rest] = problemsOf({ ...MINIMAL, SECURITY_MODULE_BASELINE: '{"Process_Mode":' });
    expect(rest).toEqual([]);
    expect(problem).toMatch(/^SECURITY_MODULE_BASELINE is not valid JSON/);
  });
});

describe('secrets', () => {
  const broken: Record<string, string> = {
    IOTHUB_CONNECTION_STRING: `HostName=contoso.azure-devices.net;SharedAccessKeyName=service;SharedAccessKey=${HUB_KEY};DeviceId=x`,
    IOTHUB_EVENTS_CONNECTION: `Endpoint=https://wrong/;SharedAccessKey=${EVENTS_KEY}`,
    POSTURE_STORAGE_CONNECTION: `${STORAGE_KEY}`,
    IOTHUB_HOST_NAME: 'other.azure-devices.net',
  };

  it('never appear in a problem or the error message', () => {
    let message = '';
    try {
      loadConfig(broken);
    } catch (error) {
      message = error instanceof ConfigError ? `${error.message}\n${error.problems.join('\n')}` : '';
    }
    expect(message).toContain('IOTHUB_CONNECTION_STRING');
    for (const key of [HUB_KEY, EVENTS_KEY, STORAGE_KEY]) expect(message).not.toContain(key);
  });

  it('never appear in describe(), which still shows what is configured', () => {
    const config = loadConfig({ ...MINIMAL, AzureWebJobsStorage: `garbage-${STORAGE_KEY}`, UNRELATED_SECRET: HUB_KEY });
    const view = config.describe();
    for (const key of [HUB_KEY, EVENTS_KEY, STORAGE_KEY]) expect(JSON.stringify(view)).not.toContain(key);
    expect(view).toMatchObject({
      IOTHUB_CONNECTION_STRING: 'HostName=contoso.azure-devices.net;SharedAccessKeyName=service;SharedAccessKey=***',
      IOTHUB_EVENTS_CONNECTION:
        'Endpoint=sb://ihsuprodxx000dednamespace.servicebus.windows.net/;SharedAccessKeyName=service;SharedAccessKey=***;EntityPath=iothub-ehub-contoso-1234-abcdef',
      POSTURE_STORAGE_CONNECTION:
        'DefaultEndpointsProtocol=https;AccountName=contosoposture;AccountKey=***;EndpointSuffix=core.windows.net',
      AzureWebJobsStorage: '***',
      IOTHUB_EVENTS_CONSUMER_GROUP: 'twinguard (default)',
      PROVISIONING_TARGET_CONDITION: '(not set)',
    });
    expect(Object.keys(view)).toEqual(SETTINGS.map((setting) => setting.name));
  });

  it('every setting that can hold key material is marked secret', () => {
    expect(SETTINGS.filter((setting) => setting.secret).map((setting) => setting.name)).toEqual([
      'IOTHUB_CONNECTION_STRING',
      'IOTHUB_EVENTS_CONNECTION',
      'POSTURE_STORAGE_CONNECTION',
      'AzureWebJobsStorage',
      'APPLICATIONINSIGHTS_CONNECTION_STRING',
      'ALERT_WEBHOOK_URL',
      'ALERT_WEBHOOK_SECRET',
      'ALERT_EVENTGRID_KEY',
    ]);
  });
});
