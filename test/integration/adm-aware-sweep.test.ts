/**
 * TwinGuard next to IoT Hub automatic configurations, against the emulator through azure-iothub: competing module
 * configurations of different priorities decide each security module's baseline, the sweep's baseline rule and its
 * repair follow the winning configuration (never writing what the hub would take out again), findings name the
 * managing configuration, and ensureSecurityModule leaves a module a configuration manages to the hub.
 */
import { IotHubEmulator } from '../../emulator/index';
import { IotHubDeviceRegistry } from '../../shared/adapters/iothub-registry';
import { MemorySweepStore } from '../../shared/adapters/memory/memory-sweep-store';
import { silentLogger } from '../../shared/logger';
import type { FindingRecord } from '../../shared/ports/sweep-store';
import { ConfigurationCatalog } from '../../shared/services/configuration-catalog';
import { ensureSecurityModule } from '../../shared/services/ensure-security-module';
import { sweepHarness, type SweepHarness } from '../../testing/sweep-harness';

const MODULE = 'DefenderIotMicroAgent';
const BASELINE = { Baseline_Collection_Frequency: 3600 };
const FOR_MODULE = `FROM devices.modules WHERE moduleId = '${MODULE}'`;

let hub: IotHubEmulator;
let harness: SweepHarness;
let sweeps: MemorySweepStore;

function desired(deviceId: string): Record<string, unknown> {
  const twin = hub.registry.getTwin(deviceId, MODULE);
  const { $metadata, $version, ...rest } = (twin['properties'] as { desired: Record<string, unknown> }).desired;
  void $metadata;
  void $version;
  return rest;
}

async function findingsOf(sweepId: string): Promise<FindingRecord[]> {
  return (await sweeps.listFindings({ sweepId, shards: 4, limit: 1000 })).rows;
}

beforeAll(async () => {
  // No cycle: the hub evaluates on configuration changes and when the test asks, so every write is attributable.
  hub = await IotHubEmulator.start({ hubName: 'adm-sweep', configurations: { evaluationIntervalMs: 0 } });
  for (const [deviceId, tags] of [
    ['ring1-1', { fleet: 'adm', ring: 1 }],
    ['ring2-1', { fleet: 'adm', ring: 2 }],
    ['plain-1', undefined],
  ] as const) {
    hub.registry.createDevice({ deviceId });
    hub.registry.createModule({ deviceId, moduleId: MODULE });
    if (tags) hub.registry.updateTwin(deviceId, MODULE, { tags });
  }
  hub.registry.createDevice({ deviceId: 'missing-1' });
  sweeps = new MemorySweepStore();
  harness = sweepHarness(hub, { settings: { rules: { ...defaultRules(), baseline: BASELINE } }, sweeps });
  const sdk = harness.sdk;
  const add = (id: string, priority: number, condition: string, frequency: number) =>
    sdk.addConfiguration({
      id,
      schemaVersion: '1.0',
      priority,
      targetCondition: condition,
      content: { moduleContent: { [`properties.desired.Baseline_Collection_Frequency`]: frequency } },
    });
  await add('agent-fleet', 1, `${FOR_MODULE} AND tags.fleet = 'adm'`, 500);
  await add('agent-ring1', 5, `${FOR_MODULE} AND tags.ring = 1`, 100);
  await add('agent-new', 1, `${FOR_MODULE} AND deviceId IN ['missing-1', 'fresh-1']`, 900);
});

afterAll(async () => {
  harness.close();
  await hub.stop();
});

function defaultRules() {
  return {
    moduleId: MODULE,
    schema: 'microAgent' as const,
    baseline: {},
    staleAgentHours: 24,
    inactiveModuleHours: 72,
    requiredModuleAuth: 'any' as const,
  };
}

it('takes the winning configuration as the baseline, repairs toward it and names it on every finding', async () => {
  expect(desired('ring1-1')).toEqual({ Baseline_Collection_Frequency: 100 });
  expect(desired('ring2-1')).toEqual({ Baseline_Collection_Frequency: 500 });
  // An operator's hand edit on a managed module: drift from its configuration, not from TwinGuard's baseline.
  hub.registry.updateTwin('ring1-1', MODULE, { properties: { desired: { Baseline_Collection_Frequency: 42 } } });

  const run = await harness.sweep();
  expect(run.status).toBe('completed');
  const findings = await findingsOf(run.sweepId);
  const baseline = (deviceId: string) => findings.find((f) => f.deviceId === deviceId && f.ruleId === 'baseline-not-applied');

  expect(baseline('ring1-1')).toMatchObject({ managedBy: 'agent-ring1', repairAction: 'applyBaseline', repairResult: 'applied' });
  expect(baseline('ring1-1')?.message).toContain('agent-ring1');
  expect(baseline('ring2-1')).toBeUndefined();
  expect(baseline('plain-1')).toMatchObject({ repairResult: 'applied' });
  expect(baseline('plain-1')?.managedBy).toBeUndefined();
  expect(findings.filter((f) => f.deviceId === 'ring2-1').every((f) => f.managedBy === 'agent-fleet')).toBe(true);
  expect(findings.find((f) => f.deviceId === 'missing-1')).toMatchObject({
    ruleId: 'module-missing',
    managedBy: 'agent-new',
    repairResult: 'created',
  });

  // The repair wrote the configuration's content, TwinGuard's baseline only where no configuration manages the module.
  expect(desired('ring1-1')).toEqual({ Baseline_Collection_Frequency: 100 });
  expect(desired('ring2-1')).toEqual({ Baseline_Collection_Frequency: 500 });
  expect(desired('plain-1')).toEqual(BASELINE);
  // The module created for missing-1 is left to the hub, which configures it on its next evaluation.
  expect(desired('missing-1')).toEqual({});
  hub.configurations.evaluate();
  expect(desired('missing-1')).toEqual({ Baseline_Collection_Frequency: 900 });
  // Nothing TwinGuard wrote is taken out by the hub.
  expect([desired('ring1-1'), desired('ring2-1'), desired('plain-1')]).toEqual([
    { Baseline_Collection_Frequency: 100 },
    { Baseline_Collection_Frequency: 500 },
    BASELINE,
  ]);

  const again = await harness.sweep();
  expect((await findingsOf(again.sweepId)).filter((f) => f.ruleId === 'baseline-not-applied')).toEqual([]);
});

it('reads the configurations once per sweep, not per bucket or device', async () => {
  let reads = 0;
  const counting = new Proxy(harness.services.registry, {
    get(target, property, receiver) {
      if (property === 'listConfigurations') reads++;
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
  const { configurations, settings } = harness.services;
  harness.services.configurations = new ConfigurationCatalog(counting, { now: () => new Date() });
  harness.services.settings = { ...settings, bucketDevices: 1, shards: 2 };
  try {
    const run = await harness.sweep();
    expect(run.status).toBe('completed');
    expect(run.plan?.buckets ?? 0).toBeGreaterThan(2);
    expect(reads).toBe(1);
  } finally {
    harness.services.configurations = configurations;
    harness.services.settings = settings;
  }
});

it('ensureSecurityModule creates a module a configuration targets without writing the baseline', async () => {
  hub.registry.createDevice({ deviceId: 'fresh-1' });
  const registry = new IotHubDeviceRegistry(harness.sdk, { retryBudgetMs: 5_000 });
  const settings = {
    securityModuleId: MODULE,
    baseline: BASELINE,
    baselineSchema: 'microAgent' as const,
    provisioningEnabled: true,
    provisionEdgeDevices: false,
    writeConcurrency: 4,
    maxLatestConflicts: 5,
  };
  const catalog = new ConfigurationCatalog(registry, { now: () => new Date() });
  const result = await ensureSecurityModule({ deviceId: 'fresh-1', twin: {} }, registry, settings, silentLogger, catalog);
  expect(result).toMatchObject({ status: 'created', baselineApplied: false, managedBy: 'agent-new' });
  expect(desired('fresh-1')).toEqual({});
  hub.configurations.evaluate();
  expect(desired('fresh-1')).toEqual({ Baseline_Collection_Frequency: 900 });
  // An unmanaged device still gets TwinGuard's baseline.
  hub.registry.createDevice({ deviceId: 'fresh-2' });
  const plain = await ensureSecurityModule({ deviceId: 'fresh-2', twin: {} }, registry, settings, silentLogger, catalog);
  expect(plain).toMatchObject({ status: 'created', baselineApplied: true });
  expect(plain.managedBy).toBeUndefined();
  expect(desired('fresh-2')).toEqual(BASELINE);
});
