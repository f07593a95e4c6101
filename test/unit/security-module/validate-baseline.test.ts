import { LEGACY_CONFIG_KEYS, LEGACY_MODULE_ID, MICRO_AGENT_MODULE_ID } from '../../../shared/domain/security-module/module-ids';
import { validateBaseline } from '../../../shared/domain/security-module/validate-baseline';
import type { JsonObject, SecurityAgentSchema } from '../../../shared/domain/types';

const [GITHUB_KEY, DOCS_KEY] = LEGACY_CONFIG_KEYS;

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
    [
      'frequency not in the list',
      { Login_MessageFrequency: 'Often' },
      MICRO_AGENT_MODULE_ID,
      ['Login_MessageFrequency: Often — must be one of Low, Medium, High'],
    ],
    ['process mode out of range', { Process_Mode: 4 }, MICRO_AGENT_MODULE_ID, ['Process_Mode: 4 — must be one of 1, 2, 3']],
    ['timeout zero', { IothubModule_MessageTimeout: 0 }, MICRO_AGENT_MODULE_ID, ['IothubModule_MessageTimeout: 0 — must be at least 1']],
    [
      'cache size fraction',
      { Statistics_CacheSize: 2.5 },
      MICRO_AGENT_MODULE_ID,
      ['Statistics_CacheSize: 2.5 — must be a whole number, not a number'],
    ],
    [
      'cache size as a string',
      { Peripheral_CacheSize: '256' },
      MICRO_AGENT_MODULE_ID,
      ['Peripheral_CacheSize: 256 — must be a whole number, not a string'],
    ],
    [
      'null for a non-nullable key',
      { Heartbeat_Disabled: null },
      MICRO_AGENT_MODULE_ID,
      ['Heartbeat_Disabled: null — must be true or false, not null'],
    ],
    [
      'check list as an array',
      { Baseline_ChecksDisabled: ['a'] },
      MICRO_AGENT_MODULE_ID,
      ['Baseline_ChecksDisabled: ["a"] — must be a comma-separated string or null, not an array'],
    ],
    ['empty network devices', { NetworkActivity_Devices: ' ' }, MICRO_AGENT_MODULE_ID, ['NetworkActivity_Devices:   — must not be empty']],
    [
      'typo with a close match',
      { Proces_Mode: 1 },
      MICRO_AGENT_MODULE_ID,
      ['Proces_Mode: unknown micro-agent setting — did you mean Process_Mode?'],
    ],
    [
      'wrong case of a key',
      { heartbeat_disabled: true },
      MICRO_AGENT_MODULE_ID,
      ['heartbeat_disabled: unknown micro-agent setting — did you mean Heartbeat_Disabled?'],
    ],
    [
      'unknown key with no close match',
      { Telemetry_Enabled: true },
      MICRO_AGENT_MODULE_ID,
      ['Telemetry_Enabled: unknown micro-agent setting'],
    ],
    [
      'legacy object for the micro agent',
      { [GITHUB_KEY]: {} },
      MICRO_AGENT_MODULE_ID,
      [
        `${GITHUB_KEY}: legacy agent configuration cannot configure DefenderIotMicroAgent, a micro-agent module — use the micro agent's flat settings`,
      ],
    ],
    [
      'micro-agent setting for the legacy module',
      { Process_Mode: 1 },
      LEGACY_MODULE_ID,
      [
        `Process_Mode: micro-agent setting cannot configure azureiotsecurity, a legacy-agent module — put legacy settings under ${GITHUB_KEY}`,
      ],
    ],
    [
      'stray key in a legacy baseline',
      { securityGroup: 'default' },
      LEGACY_MODULE_ID,
      [`securityGroup: unknown key — a legacy-agent baseline holds only ${GITHUB_KEY} or ${DOCS_KEY}`],
    ],
    [
      'both legacy spellings',
      { [GITHUB_KEY]: {}, [DOCS_KEY]: {} },
      LEGACY_MODULE_ID,
      [`both legacy configuration keys are set (${GITHUB_KEY} and ${DOCS_KEY}) — use only one spelling`],
    ],
    [
      'legacy configuration not an object',
      { [GITHUB_KEY]: 'PT7M' },
      LEGACY_MODULE_ID,
      [`${GITHUB_KEY}: must be an object of agent settings, not a string`],
    ],
    [
      'legacy duration malformed, flat and wrapped',
      {
        [DOCS_KEY]: { highPriorityMessageFrequency: { value: '7 minutes' }, snapshotFrequency: 'PT', aggregationIntervalProcessCreate: 60 },
      },
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
      [
        'eventPriorityLogin: Medium — must be one of High, Low, Off',
        'aggregationEnabledConnectionCreate: yes — must be true or false, not a string',
      ],
    ],
    [
      'legacy wrapped value with extra keys',
      { [DOCS_KEY]: { snapshotFrequency: { value: 'PT13H', unit: 'h' } } },
      LEGACY_MODULE_ID,
      ['snapshotFrequency: {"value":"PT13H","unit":"h"} — a wrapped setting holds exactly one key, "value"'],
    ],
    [
      'legacy setting typo',
      { [GITHUB_KEY]: { snapshotFrequencey: 'PT13H' } },
      LEGACY_MODULE_ID,
      ['snapshotFrequencey: unknown legacy-agent setting — did you mean snapshotFrequency?'],
    ],
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
      [
        'Login_UsePAM: 1 — must be true or false, not a number',
        'Process_Mode: 0 — must be one of 1, 2, 3',
        'Foo: unknown micro-agent setting',
      ],
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
