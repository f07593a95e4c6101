import { LEGACY_CONFIG_KEYS } from '../../../shared/domain/security-module/module-ids';
import { compareConfiguration } from '../../../shared/domain/security-module/compare-configuration';
import type { ConfigurationState, JsonObject, SecurityAgentSchema } from '../../../shared/domain/types';

const [GITHUB_KEY, DOCS_KEY] = LEGACY_CONFIG_KEYS;

describe('compareConfiguration', () => {
  type Case = [string, JsonObject | undefined, JsonObject | undefined, SecurityAgentSchema, ConfigurationState, string[]];
  const micro: SecurityAgentSchema = 'microAgent';
  const legacy: SecurityAgentSchema = 'legacy';

  it.each<Case>([
    ['micro: nothing on either side', undefined, undefined, micro, 'unknown', []],
    ['micro: only metadata on either side', { $version: 1 }, { $version: 1 }, micro, 'unknown', []],
    ['micro: desired but agent has not reported', { Process_Mode: 2 }, undefined, micro, 'pending', []],
    ['micro: desired, agent reported only its state', { Process_Mode: 2 }, { latest_state: 'success' }, micro, 'pending', []],
    [
      'micro: equal values',
      { Process_Mode: 2, Login_UsePAM: true },
      { Process_Mode: 2, Login_UsePAM: true, latest_state: 'success' },
      micro,
      'inSync',
      [],
    ],
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
    [
      'micro: enum case is not cosmetic',
      { Process_MessageFrequency: 'High' },
      { Process_MessageFrequency: 'high' },
      micro,
      'drifted',
      ['Process_MessageFrequency'],
    ],
    ['micro: nothing desired, agent reports defaults', {}, { Process_Mode: 1, latest_state: 'success' }, micro, 'inSync', []],
    [
      'micro: failed state adds the invalid fields',
      { Process_Mode: 7, Login_UsePAM: true },
      { Login_UsePAM: true, Process_Mode: 1, latest_state: 'failed', latest_invalid_fields: ['Process_Mode', 'Baseline_ChecksDisabled'] },
      micro,
      'drifted',
      ['Baseline_ChecksDisabled', 'Process_Mode'],
    ],
    [
      'micro: failed state without echoed configuration',
      { Process_Mode: 7 },
      { latest_state: 'failed', latest_invalid_fields: 'Process_Mode' },
      micro,
      'drifted',
      ['Process_Mode'],
    ],
    ['micro: failed state naming no field', {}, { latest_state: 'failed' }, micro, 'drifted', ['latest_state']],
    ['legacy: nothing on either side', {}, {}, legacy, 'unknown', []],
    [
      'legacy: desired but nothing reported',
      { [GITHUB_KEY]: { snapshotFrequency: 'PT13H' } },
      { [GITHUB_KEY]: undefined },
      legacy,
      'pending',
      [],
    ],
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
    [
      'legacy: latest_state is not a legacy signal',
      { [GITHUB_KEY]: {} },
      { [GITHUB_KEY]: {}, latest_state: 'failed' },
      legacy,
      'inSync',
      [],
    ],
  ])('%s', (_name, desired, reported, schema, state, driftedKeys) => {
    expect(compareConfiguration(desired, reported, schema)).toStrictEqual({ state, driftedKeys });
  });
});
