/** The emulator's Edge scope rules (emulator/registry/device-scope.ts), table by table. */
import { HubError } from '../../emulator/registry/hub-error';
import { deviceIdOfScope, resolveDeviceScopes, type ScopeHolder } from '../../emulator/registry/device-scope';
import { jobLimitsForTier } from '../../emulator/scheduled-jobs/job-limits';

const scope = (id: string, gen = '637000000000000001'): string => `ms-azure-iot-edge://${id}-${gen}`;

/** gw → mid (Edge) chain; plain is not Edge. */
const fleet = new Map<string, ScopeHolder>([
  ['gw', { deviceId: 'gw', isEdge: true, deviceScope: scope('gw') }],
  ['mid', { deviceId: 'mid', isEdge: true, deviceScope: scope('mid'), parentScopes: [scope('gw')] }],
  ['plain', { deviceId: 'plain', isEdge: false }],
]);
const find = (id: string) => fleet.get(id);

describe('deviceIdOfScope', () => {
  it.each([
    [scope('gw'), 'gw'],
    [scope('a-b-c'), 'a-b-c'],
    ['ms-azure-iot-edge://gw-', undefined],
    ['ms-azure-iot-edge://gw-12x', undefined],
    ['other://gw-1', undefined],
  ])('%s → %s', (text, id) => {
    expect(deviceIdOfScope(text)).toBe(id);
  });
});

describe('resolveDeviceScopes', () => {
  const leaf = { deviceId: 'leaf', isEdge: false, generationId: '5' };
  const edge = { deviceId: 'edge', isEdge: true, generationId: '7' };

  it.each<[string, typeof leaf, object, object, object]>([
    ['new Edge device: generated scope', edge, {}, {}, { deviceScope: scope('edge', '7') }],
    [
      'new Edge device adopting its own exported scope',
      edge,
      { deviceScope: scope('edge', '42') },
      {},
      { deviceScope: scope('edge', '42') },
    ],
    [
      'Edge child via parentScopes',
      edge,
      { parentScopes: [scope('gw')] },
      {},
      { deviceScope: scope('edge', '7'), parentScopes: [scope('gw')] },
    ],
    ['leaf via deviceScope', leaf, { deviceScope: scope('gw') }, {}, { deviceScope: scope('gw'), parentScopes: [scope('gw')] }],
    ['leaf via parentScopes', leaf, { parentScopes: [scope('mid')] }, {}, { deviceScope: scope('mid'), parentScopes: [scope('mid')] }],
    [
      'leaf update without scope fields keeps the parent',
      leaf,
      {},
      { deviceScope: scope('gw'), parentScopes: [scope('gw')] },
      { deviceScope: scope('gw'), parentScopes: [scope('gw')] },
    ],
    [
      'leaf update with empty scope detaches',
      leaf,
      { deviceScope: '', parentScopes: [] },
      { deviceScope: scope('gw'), parentScopes: [scope('gw')] },
      {},
    ],
    ['plain device', leaf, {}, {}, {}],
  ])('%s', (_name, device, request, current, expected) => {
    expect(resolveDeviceScopes(device, request, current, find)).toEqual(expected);
  });

  it.each<[string, typeof leaf, object, RegExp]>([
    ['unknown device', leaf, { deviceScope: scope('ghost') }, /does not belong/],
    ['stale generation', leaf, { deviceScope: scope('gw', '9') }, /does not belong/],
    ['two parents', leaf, { parentScopes: [scope('gw'), scope('mid')] }, /only one parent/],
    ['Edge device choosing a scope', edge, { deviceScope: scope('gw') }, /generated and cannot be set/],
    ['non-string scope', leaf, { deviceScope: 5 }, /must be a string/],
    ['non-array parentScopes', leaf, { parentScopes: 'x' }, /must be an array/],
  ])('refuses %s', (_name, device, request, message) => {
    expect(() => resolveDeviceScopes(device, request, {}, find)).toThrow(HubError);
    expect(() => resolveDeviceScopes(device, request, {}, find)).toThrow(message);
  });

  it('refuses an Edge chain of more than six devices and a cycle', () => {
    const chain = new Map<string, ScopeHolder>();
    let parent: string | undefined;
    for (let i = 0; i < 6; i++) {
      chain.set(`l${i}`, { deviceId: `l${i}`, isEdge: true, deviceScope: scope(`l${i}`), ...(parent ? { parentScopes: [parent] } : {}) });
      parent = scope(`l${i}`);
    }
    const lookup = (id: string) => chain.get(id);
    expect(() =>
      resolveDeviceScopes({ deviceId: 'l6', isEdge: true, generationId: '1' }, { parentScopes: [scope('l5')] }, {}, lookup),
    ).toThrow(/at most 5 layers/);
    expect(
      resolveDeviceScopes({ deviceId: 'l5b', isEdge: true, generationId: '1' }, { parentScopes: [scope('l4')] }, {}, lookup).parentScopes,
    ).toEqual([scope('l4')]);
    expect(() =>
      resolveDeviceScopes(
        { deviceId: 'l0', isEdge: true, generationId: '1' },
        { parentScopes: [scope('l3')] },
        { deviceScope: scope('l0') },
        lookup,
      ),
    ).toThrow(/cycle/);
  });
});

describe('jobLimitsForTier', () => {
  it.each([
    ['S1', 4, { maxConcurrentJobs: 1, deviceOperationsPerSecond: 10 }],
    ['S2', 1, { maxConcurrentJobs: 5, deviceOperationsPerSecond: 10 }],
    ['S2', 30, { maxConcurrentJobs: 5, deviceOperationsPerSecond: 30 }],
    ['S3', 2, { maxConcurrentJobs: 10, deviceOperationsPerSecond: 100 }],
  ] as const)('%s × %d units', (tier, units, limits) => {
    expect(jobLimitsForTier(tier, units)).toEqual(limits);
  });
});
