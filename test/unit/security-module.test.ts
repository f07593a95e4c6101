import {
  LEGACY_CONFIG_KEYS,
  LEGACY_MODULE_ID,
  MICRO_AGENT_MODULE_ID,
  agentSchemaFor,
  baselineDesiredPatch,
  baselineDiff,
  compareConfiguration,
  readAgentState,
  validateBaseline,
} from '../../shared/domain/security-module';
import type { ConfigurationState, JsonObject, SecurityAgentSchema } from '../../shared/domain/types';

const [GITHUB_KEY, DOCS_KEY] = LEGACY_CONFIG_KEYS;

describe('module ids', () => {
  it('are the exact documented spellings', () => {
    expect([MICRO_AGENT_MODULE_ID, LEGACY_MODULE_ID, ...LEGACY_CONFIG_KEYS]).toStrictEqual([
      'DefenderIotMicroAgent',
      'azureiotsecurity',
      'azureiot*com^securityAgentConfiguration^1*0*0',
      'ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration',
    ]);
  });
});

describe('agentSchemaFor', () => {
  it.each<[string, string, JsonObject | undefined, SecurityAgentSchema]>([
    ['micro agent module', 'DefenderIotMicroAgent', undefined, 'microAgent'],
    ['legacy module', 'azureiotsecurity', undefined, 'legacy'],
    ['legacy module with empty desired', 'azureiotsecurity', {}, 'legacy'],
    ['module ids are case-sensitive', 'AzureIoTSecurity', undefined, 'microAgent'],
    ['custom module, flat desired', 'SecurityAgent', { Process_Mode: 1 }, 'microAgent'],
    ['custom module, GitHub legacy key', 'SecurityAgent', { [GITHUB_KEY]: {} }, 'legacy'],
    ['custom module, docs legacy key', 'SecurityAgent', { [DOCS_KEY]: {} }, 'legacy'],
    ['the micro agent id wins over a stray legacy key', 'DefenderIotMicroAgent', { [GITHUB_KEY]: {} }, 'microAgent'],
  ])('%s', (_name, moduleId, desired, expected) => {
    expect(agentSchemaFor(moduleId, desired)).toBe(expected);
  });
});

describe('validateBaseline', () => {
  const microBaseline = {
    CollectorsCore_PriorityIntervals: '30,120,1440',
    Baseline_Disabled: false,
    Baseline_MessageFrequency: 'Low',
    Baseline_GroupsDisabled: '',
    Baseline_ChecksDisabled: null,
    SBoM_Disabled: true,
    SystemInformation_HardwareVendor: 'Contoso',
    Login_UsePAM: true,
    IothubModule_MessageTimeout: 2880,
    NetworkActivity_Devices: 'eth0,wlan0',
    NetworkActivity_CacheSize: 256,
    NetworkActivity_PacketBufferSize: 2097152,
    Process_PollingInterval: 100000,
    Process_Mode: 2,
    Process_CacheSize: 256,
    FileSystem_Recursive: true,
    FileSystem_Paths: '/etc,/usr/bin',
    FileSystem_CacheSize: 256,
    Peripheral_CacheSize: 256,
    Statistics_CacheSize: 256,
    LogCollector_MessageFrequency: 'High',
  };

  const legacySettings = {
    highPriorityMessageFrequency: 'PT7M',
    lowPriorityMessageFrequency: 'PT5H',
    snapshotFrequency: 'P1DT1H',
    maxLocalCacheSizeInBytes: 2560000,
    maxMessageSizeInBytes: 262144,
    eventPriorityDiagnostic: 'Off',
    eventPriorityListeningPorts: 'High',
    aggregationEnabledProcessCreate: false,
    aggregationIntervalConnectionCreate: 'PT1H',
    baselineCustomChecksEnabled: true,
    baselineCustomChecksFilePath: '/etc/checks.xml',
    baselineCustomChecksFileHash: 'abc123',
  };

  const wrapped = Object.fromEntries(Object.entries(legacySettings).map(([key, value]) => [key, { value }]));

  it.each<[string, unknown, string, SecurityAgentSchema]>([
    ['empty micro-agent baseline', {}, MICRO_AGENT_MODULE_ID, 'microAgent'],
    ['empty legacy baseline', {}, LEGACY_MODULE_ID, 'legacy'],
    ['every kind of micro-agent setting', microBaseline, MICRO_AGENT_MODULE_ID, 'microAgent'],
    ['legacy, GitHub spelling, flat values', { [GITHUB_KEY]: legacySettings }, LEGACY_MODULE_ID, 'legacy'],
    ['legacy, docs spelling, wrapped values', { [DOCS_KEY]: wrapped }, LEGACY_MODULE_ID, 'legacy'],
    ['legacy, empty configuration object', { [DOCS_KEY]: {} }, LEGACY_MODULE_ID, 'legacy'],
    ['custom module id with a legacy object', { [GITHUB_KEY]: legacySettings }, 'MySecurityAgent', 'legacy'],
    ['custom module id with flat settings', { Process_Mode: 3 }, 'MySecurityAgent', 'microAgent'],
    ['JSON text', '{"Heartbeat_MessageFrequency":"Medium"}', MICRO_AGENT_MODULE_ID, 'microAgent'],
  ])('accepts %s', (_name, value, moduleId, schema) => {
    const expectedBaseline = typeof value === 'string' ? (JSON.parse(value) as JsonObject) : value;
    expect(validateBaseline(value, moduleId)).toStrictEqual({ ok: true, baseline: expectedBaseline, schema });
  });

  it.each<[string, unknown, string, string[]]>([
    [
      'intervals that are not multiples',
      { CollectorsCore_PriorityIntervals: '30,100,1440' },
      MICRO_AGENT_MODULE_ID,
      ['CollectorsCore_PriorityIntervals: 30,100,1440 — each interval must be a multiple of the previous'],
    ],
    [
      'intervals with two values',
      { CollectorsCore_PriorityIntervals: '30,120' },
      MICRO_AGENT_MODULE_ID,
      ['CollectorsCore_PriorityIntervals: 30,120 — must be three positive whole minutes "<High>,<Medium>,<Low>"'],
    ],
    [
      'intervals with a zero',
      { CollectorsCore_PriorityIntervals: '0,120,1440' },
      MICRO_AGENT_MODULE_ID,
      ['CollectorsCore_PriorityIntervals: 0,120,1440 — must be three positive whole minutes "<High>,<Medium>,<Low>"'],
    ],
    ['boolean as a string', { Login_UsePAM: 'true' }, MICRO_AGENT_MODULE_ID, ['Login_UsePAM: true — must be true or false, not a string']],
    [
      'frequency in the wrong case',
      { Process_MessageFrequency: 'medium' },
      MICRO_AGENT_MODULE_ID,
      ['Process_MessageFrequency: medium — must be one of Low, Medium, High (values are case-sensitive: Medium)'],
    ],
    ['frequency not in the list', { Login_MessageFrequency: 'Often' }, MICRO_AGENT_MODULE_ID, ['Login_MessageFrequency: Often — must be one of Low, Medium, High']],
    ['process mode out of range', { Process_Mode: 4 }, MICRO_AGENT_MODULE_ID, ['Process_Mode: 4 — must be one of 1, 2, 3']],
    ['timeout zero', { IothubModule_MessageTimeout: 0 }, MICRO_AGENT_MODULE_ID, ['IothubModule_MessageTimeout: 0 — must be at least 1']],
    ['cache size fraction', { Statistics_CacheSize: 2.5 }, MICRO_AGENT_MODULE_ID, ['Statistics_CacheSize: 2.5 — must be a whole number, not a number']],
    ['cache size as a string', { Peripheral_CacheSize: '256' }, MICRO_AGENT_MODULE_ID, ['Peripheral_CacheSize: 256 — must be a whole number, not a string']],
    ['null for a non-nullable key', { Heartbeat_Disabled: null }, MICRO_AGENT_MODULE_ID, ['Heartbeat_Disabled: null — must be true or false, not null']],
    ['check list as an array', { Baseline_ChecksDisabled: ['a'] }, MICRO_AGENT_MODULE_ID, ['Baseline_ChecksDisabled: ["a"] — must be a comma-separated string or null, not an array']],
    ['empty network devices', { NetworkActivity_Devices: ' ' }, MICRO_AGENT_MODULE_ID, ['NetworkActivity_Devices:   — must not be empty']],
    ['typo with a close match', { Proces_Mode: 1 }, MICRO_AGENT_MODULE_ID, ['Proces_Mode: unknown micro-agent setting — did you mean Process_Mode?']],
    ['wrong case of a key', { heartbeat_disabled: true }, MICRO_AGENT_MODULE_ID, ['heartbeat_disabled: unknown micro-agent setting — did you mean Heartbeat_Disabled?']],
    ['unknown key with no close match', { Telemetry_Enabled: true }, MICRO_AGENT_MODULE_ID, ['Telemetry_Enabled: unknown micro-agent setting']],
    [
      'legacy object for the micro agent',
      { [GITHUB_KEY]: {} },
      MICRO_AGENT_MODULE_ID,
      [`${GITHUB_KEY}: legacy agent configuration cannot configure DefenderIotMicroAgent, a micro-agent module — use the micro agent's flat settings`],
    ],
    [
      'micro-agent setting for the legacy module',
      { Process_Mode: 1 },
      LEGACY_MODULE_ID,
      [`Process_Mode: micro-agent setting cannot configure azureiotsecurity, a legacy-agent module — put legacy settings under ${GITHUB_KEY}`],
    ],
    ['stray key in a legacy baseline', { securityGroup: 'default' }, LEGACY_MODULE_ID, [`securityGroup: unknown key — a legacy-agent baseline holds only ${GITHUB_KEY} or ${DOCS_KEY}`]],
    [
      'both legacy spellings',
      { [GITHUB_KEY]: {}, [DOCS_KEY]: {} },
      LEGACY_MODULE_ID,
      [`both legacy configuration keys are set (${GITHUB_KEY} and ${DOCS_KEY}) — use only one spelling`],
    ],
    ['legacy configuration not an object', { [GITHUB_KEY]: 'PT7M' }, LEGACY_MODULE_ID, [`${GITHUB_KEY}: must be an object of agent settings, not a string`]],
    [
      'legacy duration malformed, flat and wrapped',
      { [DOCS_KEY]: { highPriorityMessageFrequency: { value: '7 minutes' }, snapshotFrequency: 'PT', aggregationIntervalProcessCreate: 60 } },
      LEGACY_MODULE_ID,
      [
        'highPriorityMessageFrequency: 7 minutes — must be an ISO-8601 duration such as PT7M',
        'snapshotFrequency: PT — must be an ISO-8601 duration such as PT7M',
        'aggregationIntervalProcessCreate: 60 — must be an ISO-8601 duration string such as PT7M, not a number',
      ],
    ],
    [
      'legacy sizes out of range',
      { [GITHUB_KEY]: { maxLocalCacheSizeInBytes: 8191, maxMessageSizeInBytes: 262145 } },
      LEGACY_MODULE_ID,
      ['maxLocalCacheSizeInBytes: 8191 — must be at least 8192', 'maxMessageSizeInBytes: 262145 — must be between 8192 and 262144'],
    ],
    [
      'legacy priority and aggregation types',
      { [GITHUB_KEY]: { eventPriorityLogin: 'Medium', aggregationEnabledConnectionCreate: 'yes' } },
      LEGACY_MODULE_ID,
      ['eventPriorityLogin: Medium — must be one of High, Low, Off', 'aggregationEnabledConnectionCreate: yes — must be true or false, not a string'],
    ],
    [
      'legacy wrapped value with extra keys',
      { [DOCS_KEY]: { snapshotFrequency: { value: 'PT13H', unit: 'h' } } },
      LEGACY_MODULE_ID,
      ['snapshotFrequency: {"value":"PT13H","unit":"h"} — a wrapped setting holds exactly one key, "value"'],
    ],
    ['legacy setting typo', { [GITHUB_KEY]: { snapshotFrequencey: 'PT13H' } }, LEGACY_MODULE_ID, ['snapshotFrequencey: unknown legacy-agent setting — did you mean snapshotFrequency?']],
    [
      'typo equally close to two settings gets no guess',
      { [GITHUB_KEY]: { baselineCustomChecksFilePash: 'x' } },
      LEGACY_MODULE_ID,
      ['baselineCustomChecksFilePash: unknown legacy-agent setting'],
    ],
    [
      'several problems are all listed',
      { Login_UsePAM: 1, Process_Mode: 0, Foo: 1 },
      MICRO_AGENT_MODULE_ID,
      ['Login_UsePAM: 1 — must be true or false, not a number', 'Process_Mode: 0 — must be one of 1, 2, 3', 'Foo: unknown micro-agent setting'],
    ],
    ['JSON array', [], MICRO_AGENT_MODULE_ID, ['SECURITY_MODULE_BASELINE must be a JSON object of desired properties, not an array']],
    ['JSON null text', 'null', MICRO_AGENT_MODULE_ID, ['SECURITY_MODULE_BASELINE must be a JSON object of desired properties, not null']],
  ])('rejects %s', (_name, value, moduleId, problems) => {
    expect(validateBaseline(value, moduleId)).toStrictEqual({ ok: false, problems });
  });

  it('reports a JSON syntax error with the parser message', () => {
    const result = validateBaseline('{"Process_Mode": 1,}', MICRO_AGENT_MODULE_ID);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toHaveLength(1);
    expect(!result.ok && result.problems[0]).toMatch(/^SECURITY_MODULE_BASELINE is not valid JSON — .+/);
  });
});

describe('readAgentState', () => {
  it.each<[string, JsonObject | undefined, { agentState?: string; invalidFields: string[] }]>([
    ['no reported section', undefined, { invalidFields: [] }],
    ['success', { latest_state: 'success' }, { agentState: 'success', invalidFields: [] }],
    ['failed with an array', { latest_state: 'failed', latest_invalid_fields: ['Process_Mode', 'Login_UsePAM'] }, { agentState: 'failed', invalidFields: ['Process_Mode', 'Login_UsePAM'] }],
    ['failed with a comma string', { latest_state: 'failed', latest_invalid_fields: 'Process_Mode, Login_UsePAM,' }, { agentState: 'failed', invalidFields: ['Process_Mode', 'Login_UsePAM'] }],
    ['non-string entries dropped', { latest_invalid_fields: ['A', 3, null] }, { invalidFields: ['A'] }],
    ['non-string state ignored', { latest_state: 1 }, { invalidFields: [] }],
  ])('%s', (_name, reported, expected) => {
    expect(readAgentState(reported)).toStrictEqual(expected);
  });
});

describe('compareConfiguration', () => {
  type Case = [string, JsonObject | undefined, JsonObject | undefined, SecurityAgentSchema, ConfigurationState, string[]];
  const micro: SecurityAgentSchema = 'microAgent';
  const legacy: SecurityAgentSchema = 'legacy';

  it.each<Case>([
    ['micro: nothing on either side', undefined, undefined, micro, 'unknown', []],
    ['micro: only metadata on either side', { $version: 1 }, { $version: 1 }, micro, 'unknown', []],
    ['micro: desired but agent has not reported', { Process_Mode: 2 }, undefined, micro, 'pending', []],
    ['micro: desired, agent reported only its state', { Process_Mode: 2 }, { latest_state: 'success' }, micro, 'pending', []],
    ['micro: equal values', { Process_Mode: 2, Login_UsePAM: true }, { Process_Mode: 2, Login_UsePAM: true, latest_state: 'success' }, micro, 'inSync', []],
    [
      'micro: lenient scalar formats',
      { Login_UsePAM: true, Process_CacheSize: 256, CollectorsCore_PriorityIntervals: '30, 120,1440', Baseline_Disabled: false },
      { Login_UsePAM: 'True', Process_CacheSize: '256', CollectorsCore_PriorityIntervals: '30,120,1440', Baseline_Disabled: 'false' },
      micro,
      'inSync',
      [],
    ],
    [
      'micro: differing and missing keys are drifted, sorted',
      { Process_Mode: 2, Login_UsePAM: true, FileSystem_Paths: '/etc' },
      { Process_Mode: 1, FileSystem_Paths: '/etc' },
      micro,
      'drifted',
      ['Login_UsePAM', 'Process_Mode'],
    ],
    ['micro: enum case is not cosmetic', { Process_MessageFrequency: 'High' }, { Process_MessageFrequency: 'high' }, micro, 'drifted', ['Process_MessageFrequency']],
    ['micro: nothing desired, agent reports defaults', {}, { Process_Mode: 1, latest_state: 'success' }, micro, 'inSync', []],
    [
      'micro: failed state adds the invalid fields',
      { Process_Mode: 7, Login_UsePAM: true },
      { Login_UsePAM: true, Process_Mode: 1, latest_state: 'failed', latest_invalid_fields: ['Process_Mode', 'Baseline_ChecksDisabled'] },
      micro,
      'drifted',
      ['Baseline_ChecksDisabled', 'Process_Mode'],
    ],
    ['micro: failed state without echoed configuration', { Process_Mode: 7 }, { latest_state: 'failed', latest_invalid_fields: 'Process_Mode' }, micro, 'drifted', ['Process_Mode']],
    ['micro: failed state naming no field', {}, { latest_state: 'failed' }, micro, 'drifted', ['latest_state']],
    ['legacy: nothing on either side', {}, {}, legacy, 'unknown', []],
    ['legacy: desired but nothing reported', { [GITHUB_KEY]: { snapshotFrequency: 'PT13H' } }, { [GITHUB_KEY]: undefined }, legacy, 'pending', []],
    [
      'legacy: flat desired vs flat reported',
      { [GITHUB_KEY]: { snapshotFrequency: 'PT13H', maxMessageSizeInBytes: 204800 } },
      { [GITHUB_KEY]: { snapshotFrequency: 'PT13H', maxMessageSizeInBytes: 204800, eventPriorityLogin: 'High' } },
      legacy,
      'inSync',
      [],
    ],
    [
      'legacy: wrapped desired (docs key) vs flat reported (GitHub key)',
      { [DOCS_KEY]: { snapshotFrequency: { value: 'PT13H' }, eventPriorityLogin: { value: 'Off' } } },
      { [GITHUB_KEY]: { snapshotFrequency: 'PT13H', eventPriorityLogin: 'High' } },
      legacy,
      'drifted',
      ['eventPriorityLogin'],
    ],
    [
      'legacy: same spelling preferred when the agent reports both',
      { [DOCS_KEY]: { snapshotFrequency: { value: 'PT1H' } } },
      { [GITHUB_KEY]: { snapshotFrequency: 'PT13H' }, [DOCS_KEY]: { snapshotFrequency: { value: 'PT1H' } } },
      legacy,
      'inSync',
      [],
    ],
    [
      'legacy: setting missing from the reported configuration',
      { [GITHUB_KEY]: { baselineCustomChecksEnabled: true } },
      { [GITHUB_KEY]: { snapshotFrequency: 'PT13H' } },
      legacy,
      'drifted',
      ['baselineCustomChecksEnabled'],
    ],
    ['legacy: latest_state is not a legacy signal', { [GITHUB_KEY]: {} }, { [GITHUB_KEY]: {}, latest_state: 'failed' }, legacy, 'inSync', []],
  ])('%s', (_name, desired, reported, schema, state, driftedKeys) => {
    expect(compareConfiguration(desired, reported, schema)).toStrictEqual({ state, driftedKeys });
  });
});

describe('baselineDiff', () => {
  it.each<[string, JsonObject | undefined, JsonObject, SecurityAgentSchema, string[]]>([
    ['micro: applied', { Process_Mode: 2, Login_UsePAM: true, Other: 1, $version: 4 }, { Process_Mode: 2, Login_UsePAM: true }, 'microAgent', []],
    ['micro: nothing desired yet', undefined, { Process_Mode: 2, Login_UsePAM: true }, 'microAgent', ['Login_UsePAM', 'Process_Mode']],
    ['micro: a string is not the boolean we wrote', { Login_UsePAM: 'true' }, { Login_UsePAM: true }, 'microAgent', ['Login_UsePAM']],
    ['micro: null baseline applied by absence', { Process_Mode: 2 }, { Baseline_ChecksDisabled: null }, 'microAgent', []],
    ['micro: null baseline not applied', { Baseline_ChecksDisabled: 'c1' }, { Baseline_ChecksDisabled: null }, 'microAgent', ['Baseline_ChecksDisabled']],
    ['micro: empty baseline', { Process_Mode: 2 }, {}, 'microAgent', []],
    [
      'legacy: flat baseline, wrapped desired under the other spelling',
      { [DOCS_KEY]: { snapshotFrequency: { value: 'PT13H' }, maxMessageSizeInBytes: { value: 8192 } } },
      { [GITHUB_KEY]: { snapshotFrequency: 'PT13H', maxMessageSizeInBytes: 204800 } },
      'legacy',
      ['maxMessageSizeInBytes'],
    ],
    ['legacy: no configuration desired', {}, { [GITHUB_KEY]: { snapshotFrequency: 'PT13H' } }, 'legacy', ['snapshotFrequency']],
    ['legacy: empty baseline', {}, {}, 'legacy', []],
  ])('%s', (_name, desired, baseline, schema, expected) => {
    expect(baselineDiff(desired, baseline, schema)).toStrictEqual(expected);
  });
});

describe('baselineDesiredPatch', () => {
  it.each<[string, JsonObject, SecurityAgentSchema, JsonObject]>([
    ['micro: the flat keys', { Process_Mode: 2, Baseline_ChecksDisabled: null }, 'microAgent', { Process_Mode: 2, Baseline_ChecksDisabled: null }],
    ['micro: empty', {}, 'microAgent', {}],
    ['legacy: keeps the docs spelling and wrapping', { [DOCS_KEY]: { snapshotFrequency: { value: 'PT13H' } } }, 'legacy', { [DOCS_KEY]: { snapshotFrequency: { value: 'PT13H' } } }],
    ['legacy: keeps the GitHub spelling', { [GITHUB_KEY]: { snapshotFrequency: 'PT13H' } }, 'legacy', { [GITHUB_KEY]: { snapshotFrequency: 'PT13H' } }],
    ['legacy: empty', {}, 'legacy', {}],
  ])('%s', (_name, baseline, schema, expected) => {
    expect(baselineDesiredPatch(baseline, schema)).toStrictEqual(expected);
  });

  it('returns a copy the caller may change', () => {
    const baseline = { [GITHUB_KEY]: { snapshotFrequency: 'PT13H' } };
    const patch = baselineDesiredPatch(baseline, 'legacy');
    (patch[GITHUB_KEY] as JsonObject)['snapshotFrequency'] = 'PT1H';
    expect(baseline[GITHUB_KEY].snapshotFrequency).toBe('PT13H');
  });
});
