/**
 * ensureSecurityModule next to IoT Hub automatic configurations, on the in-memory registry: a module a configuration
 * targets (at creation or already present and unconfigured) gets no TwinGuard baseline and says which configuration
 * manages it; others get the baseline as before; the configuration catalog reads the hub at most once per TTL.
 */
import { MemoryDeviceRegistry } from '../../shared/adapters/memory/memory-device-registry';
import type { AutomaticConfiguration } from '../../shared/domain/configurations/winning-configuration';
import { silentLogger } from '../../shared/logger';
import { ConfigurationCatalog } from '../../shared/services/configuration-catalog';
import { ensureSecurityModule } from '../../shared/services/ensure-security-module';
import type { ProcessingSettings } from '../../shared/services/settings';

const MODULE = 'DefenderIotMicroAgent';
const BASELINE = { Baseline_Collection_Frequency: 3600 };
const SETTINGS: ProcessingSettings = {
  securityModuleId: MODULE,
  baseline: BASELINE,
  baselineSchema: 'microAgent',
  provisioningEnabled: true,
  provisionEdgeDevices: false,
  writeConcurrency: 4,
  maxLatestConflicts: 5,
};

function moduleConfiguration(id: string, priority: number, condition: string): AutomaticConfiguration {
  return {
    id,
    priority,
    createdTimeUtc: '2026-01-01T00:00:00.0000000Z',
    targetCondition: `FROM devices.modules WHERE moduleId = '${MODULE}'${condition}`,
    content: { moduleContent: { 'properties.desired.Baseline_Collection_Frequency': 60 } },
  };
}

describe.each([
  ['no configuration', [], 'new', undefined, true],
  ['a configuration for every security module', [moduleConfiguration('all', 1, '')], 'new', 'all', false],
  ['the higher of two', [moduleConfiguration('low', 1, ''), moduleConfiguration('high', 2, '')], 'new', 'high', false],
  ['a configuration for another device only', [moduleConfiguration('other', 1, " AND deviceId = 'x'")], 'new', undefined, true],
  ['a configuration, module present and unconfigured', [moduleConfiguration('all', 1, '')], 'present', 'all', false],
  [
    'a device configuration only',
    [{ ...moduleConfiguration('dev', 1, ''), targetCondition: '*', content: { deviceContent: { 'properties.desired.a': 1 } } }],
    'new',
    undefined,
    true,
  ],
] as const)('with %s', (_what, configurations, module, managedBy, baselineApplied) => {
  it(`${managedBy === undefined ? 'applies the baseline' : `leaves the module to ${managedBy}`}`, async () => {
    const registry = new MemoryDeviceRegistry();
    registry.addDevice('d1');
    if (module === 'present') await registry.createModule('d1', MODULE, { type: 'sas' });
    registry.setConfigurations(configurations);
    const catalog = new ConfigurationCatalog(registry, { now: () => new Date() });
    const result = await ensureSecurityModule(
      { deviceId: 'd1', twin: { authenticationType: 'sas', capabilities: { iotEdge: false } } },
      registry,
      SETTINGS,
      silentLogger,
      catalog,
    );
    expect(result.baselineApplied).toBe(baselineApplied);
    expect(result.managedBy).toBe(managedBy);
    const desired = (await registry.getModuleTwin('d1', MODULE))?.desired ?? {};
    expect(desired['Baseline_Collection_Frequency']).toBe(baselineApplied ? 3600 : undefined);
  });
});

it('reads configurations once per TTL on the event path and once per sweep id', async () => {
  const registry = new MemoryDeviceRegistry();
  let now = 0;
  const catalog = new ConfigurationCatalog(registry, { now: () => new Date(now), ttlMs: 60_000 });
  await catalog.current();
  now = 59_000;
  await catalog.current();
  expect(registry.calls.listConfigurations).toBe(1);
  now = 61_000;
  await catalog.current();
  expect(registry.calls.listConfigurations).toBe(2);
  await catalog.forSweep('s1');
  await catalog.forSweep('s1');
  await catalog.forSweep('s2');
  expect(registry.calls.listConfigurations).toBe(4);
});

it('does not keep a failed read', async () => {
  const registry = new MemoryDeviceRegistry();
  registry.failNext('listConfigurations', new Error('boom'));
  const catalog = new ConfigurationCatalog(registry, { now: () => new Date(0) });
  await expect(catalog.forSweep('s1')).rejects.toThrow('boom');
  await expect(catalog.forSweep('s1')).resolves.toEqual([]);
  registry.failNext('listConfigurations', new Error('again'));
  await expect(catalog.current()).rejects.toThrow('again');
  await expect(catalog.current()).resolves.toEqual([]);
});
