import { LEGACY_CONFIG_KEYS } from '../../../shared/domain/security-module/module-ids';
import { baselineDesiredPatch, baselineDiff } from '../../../shared/domain/security-module/baseline-patch';
import type { JsonObject, SecurityAgentSchema } from '../../../shared/domain/types';

const [GITHUB_KEY, DOCS_KEY] = LEGACY_CONFIG_KEYS;

describe('baselineDiff', () => {
  it.each<[string, JsonObject | undefined, JsonObject, SecurityAgentSchema, string[]]>([
    [
      'micro: applied',
      { Process_Mode: 2, Login_UsePAM: true, Other: 1, $version: 4 },
      { Process_Mode: 2, Login_UsePAM: true },
      'microAgent',
      [],
    ],
    ['micro: nothing desired yet', undefined, { Process_Mode: 2, Login_UsePAM: true }, 'microAgent', ['Login_UsePAM', 'Process_Mode']],
    ['micro: a string is not the boolean we wrote', { Login_UsePAM: 'true' }, { Login_UsePAM: true }, 'microAgent', ['Login_UsePAM']],
    ['micro: null baseline applied by absence', { Process_Mode: 2 }, { Baseline_ChecksDisabled: null }, 'microAgent', []],
    [
      'micro: null baseline not applied',
      { Baseline_ChecksDisabled: 'c1' },
      { Baseline_ChecksDisabled: null },
      'microAgent',
      ['Baseline_ChecksDisabled'],
    ],
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
    [
      'micro: the flat keys',
      { Process_Mode: 2, Baseline_ChecksDisabled: null },
      'microAgent',
      { Process_Mode: 2, Baseline_ChecksDisabled: null },
    ],
    ['micro: empty', {}, 'microAgent', {}],
    [
      'legacy: keeps the docs spelling and wrapping',
      { [DOCS_KEY]: { snapshotFrequency: { value: 'PT13H' } } },
      'legacy',
      { [DOCS_KEY]: { snapshotFrequency: { value: 'PT13H' } } },
    ],
    [
      'legacy: keeps the GitHub spelling',
      { [GITHUB_KEY]: { snapshotFrequency: 'PT13H' } },
      'legacy',
      { [GITHUB_KEY]: { snapshotFrequency: 'PT13H' } },
    ],
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
