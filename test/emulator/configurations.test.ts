/**
 * Automatic device/module configurations (ADM) through azure-iothub Registry: add/get/list/update/remove with the
 * hub's etag and immutability rules, application to twins by priority (ties: most recent), removal when a twin stops
 * matching, system and custom metrics, module configurations, the 100-per-hub limit and
 * applyConfigurationContentOnDevice on an Edge device.
 */
import type { Registry } from 'azure-iothub';
import type { HubChange } from '../../emulator/hub-events';
import { IotHubEmulator } from '../../emulator/index';
import { closeRegistryClient, createRegistryClient } from '../../shared/adapters/registry-client';
import { eventually } from '../../testing/eventually';
import { caught } from '../support/caught';

interface ConfigurationJson {
  id: string;
  schemaVersion: string;
  etag: string;
  priority: number;
  targetCondition: string;
  createdTimeUtc: string;
  lastUpdatedTimeUtc: string;
  labels: Record<string, string>;
  content: Record<string, unknown>;
  systemMetrics: { results: { targetedCount: number; appliedCount: number }; queries: { targetedCount: string; appliedCount: string } };
  metrics: { results: Record<string, number>; queries: Record<string, string> };
}

let hub: IotHubEmulator;
let sdk: Registry;
const changes: HubChange[] = [];
let detach: () => void;

beforeAll(async () => {
  hub = await IotHubEmulator.start({ hubName: 'adm-hub', configurations: { evaluationIntervalMs: 50 } });
  sdk = createRegistryClient({ connectionString: hub.serviceConnectionString, serviceEndpoint: hub.registryUrl });
  detach = hub.registry.onChange((change) => changes.push(change));
});

afterAll(async () => {
  detach();
  closeRegistryClient(sdk);
  await hub.stop();
});

beforeEach(async () => {
  for (const configuration of (await sdk.getConfigurations()).responseBody) await sdk.removeConfiguration(configuration.id);
  for (const device of hub.registry.listDevices()) hub.registry.deleteDevice(device.deviceId);
  changes.length = 0;
});

async function add(configuration: Record<string, unknown>): Promise<ConfigurationJson> {
  const result: { responseBody: unknown } = await sdk.addConfiguration(configuration as never);
  return result.responseBody as ConfigurationJson;
}

async function get(id: string): Promise<ConfigurationJson> {
  return (await sdk.getConfiguration(id)).responseBody as unknown as ConfigurationJson;
}

async function desiredOf(deviceId: string, moduleId?: string): Promise<Record<string, unknown>> {
  const twin = moduleId === undefined ? await sdk.getTwin(deviceId) : await sdk.getModuleTwin(deviceId, moduleId);
  const { $metadata, $version, ...desired } = twin.responseBody.properties.desired as Record<string, unknown>;
  void $metadata;
  void $version;
  return desired;
}

function deviceConfiguration(id: string, priority: number, targetCondition: string, settings: Record<string, unknown>) {
  return { id, priority, targetCondition, content: { deviceContent: { 'properties.desired.agent': settings } } };
}

describe('CRUD', () => {
  it('adds a configuration with the hub-computed fields and reads it back one by one and as a list', async () => {
    hub.registry.createDevice({ deviceId: 'p-1', tags: { env: 'prod' } });
    const created = await add({
      id: 'fw-rollout',
      labels: { team: 'ops' },
      priority: 5,
      targetCondition: "tags.env = 'prod'",
      content: { deviceContent: { 'properties.desired.firmware': { version: '1.2' } } },
      metrics: { queries: { current: "SELECT deviceId FROM devices WHERE properties.reported.firmware.version = '1.2'" } },
    });
    expect(created).toMatchObject({
      id: 'fw-rollout',
      schemaVersion: '1.0',
      labels: { team: 'ops' },
      priority: 5,
      targetCondition: "tags.env = 'prod'",
      content: { deviceContent: { 'properties.desired.firmware': { version: '1.2' } } },
      systemMetrics: {
        results: { targetedCount: 1, appliedCount: 1 },
        queries: {
          targetedCount: "select deviceId from devices where tags.env = 'prod'",
          appliedCount: "select deviceId from devices where configurations.[[fw-rollout]].status = 'Applied'",
        },
      },
      metrics: { results: { current: 0 }, queries: { current: expect.any(String) as string } },
    });
    expect(created.etag).toEqual(expect.any(String));
    expect(Date.parse(created.createdTimeUtc)).not.toBeNaN();
    expect(created.lastUpdatedTimeUtc).toBe(created.createdTimeUtc);
    expect(await get('fw-rollout')).toEqual(created);
    expect((await sdk.getConfigurations()).responseBody.map((c) => c.id)).toEqual(['fw-rollout']);
  });

  it('refuses a second add of the same id (409), unknown ids (404) and invalid definitions (400)', async () => {
    await add(deviceConfiguration('dup', 1, '*', { a: 1 }));
    expect((await caught(() => add(deviceConfiguration('dup', 1, '*', { a: 1 })))).response?.statusCode).toBe(409);
    expect((await caught(() => sdk.getConfiguration('missing'))).response?.statusCode).toBe(404);
    expect((await caught(() => sdk.removeConfiguration('missing'))).response?.statusCode).toBe(404);
    const cases: Array<[string, Record<string, unknown>]> = [
      ['uppercase id', deviceConfiguration('Upper', 1, '*', { a: 1 })],
      ['negative priority', deviceConfiguration('neg', -1, '*', { a: 1 })],
      ['bad condition', deviceConfiguration('bad-cond', 1, "tags.env = = 'x'", { a: 1 })],
      ['no content', { id: 'empty', content: {} }],
      [
        'two contents',
        { id: 'two', content: { deviceContent: { 'properties.desired.a': 1 }, moduleContent: { 'properties.desired.b': 1 } } },
      ],
      ['path outside desired', { id: 'outside', content: { deviceContent: { 'properties.reported.a': 1 } } }],
      [
        'module content on devices',
        { id: 'mod-dev', targetCondition: 'tags.x = 1', content: { moduleContent: { 'properties.desired.a': 1 } } },
      ],
      ['label with $', { ...deviceConfiguration('label', 1, '*', { a: 1 }), labels: { $reserved: 'x' } }],
      ['unparseable metric', { ...deviceConfiguration('metric', 1, '*', { a: 1 }), metrics: { queries: { m: 'SELECT FROM' } } }],
    ];
    for (const [what, body] of cases) {
      const error = await caught(() => add(body));
      expect([what, error.response?.statusCode]).toEqual([what, 400]);
      expect(error.message).toMatch(/\w/);
    }
  });

  it('updates only the mutable fields, with If-Match from the etag (stale → 412) or forced with *', async () => {
    const created = await add({ ...deviceConfiguration('mutable', 1, "tags.env = 'a'", { a: 1 }), labels: { v: '1' } });
    const changed = (await sdk.updateConfiguration({ ...created, priority: 7, labels: { v: '2' }, targetCondition: "tags.env = 'b'" }))
      .responseBody as unknown as ConfigurationJson;
    expect(changed).toMatchObject({
      priority: 7,
      labels: { v: '2' },
      targetCondition: "tags.env = 'b'",
      createdTimeUtc: created.createdTimeUtc,
    });
    expect(changed.etag).not.toBe(created.etag);
    const stale = await caught(() => sdk.updateConfiguration({ ...created, priority: 9 }));
    expect(stale.response?.statusCode).toBe(412);
    const forced = (await sdk.updateConfiguration({ ...created, priority: 9, etag: undefined }, true))
      .responseBody as unknown as ConfigurationJson;
    expect(forced.priority).toBe(9);
    const immutable = await caught(() =>
      sdk.updateConfiguration({ ...forced, content: { deviceContent: { 'properties.desired.agent': { a: 2 } } } }),
    );
    expect(immutable.response?.statusCode).toBe(400);
    expect(immutable.message).toMatch(/content/);
    expect((await get('mutable')).content).toEqual(created.content);
  });

  it.each(['module', 'device'])(
    'round-trips a %s configuration as the SDK e2e suite uses it (empty target, force update)',
    async (entity) => {
      const config = {
        id: `node_e2e_${entity}_4f9c0b6e-2d1a-4c53-9d0e-7b2f1a3c5e8d`,
        content: { [`${entity}Content`]: { 'properties.desired': { prop1: 'foo' } } },
        targetCondition: '',
        priority: 20,
      };
      await sdk.addConfiguration(config as never);
      const found = await get(config.id);
      expect(found.content).toEqual(config.content);
      expect(found.systemMetrics.results).toEqual({ targetedCount: 0, appliedCount: 0 });
      await sdk.updateConfiguration({ ...found, priority: 99 });
      expect((await get(config.id)).priority).toBe(99);
      await sdk.updateConfiguration({ ...config, priority: 98 } as never, true);
      expect((await get(config.id)).priority).toBe(98);
      await sdk.removeConfiguration(config.id);
      expect((await caught(() => sdk.getConfiguration(config.id))).message).toBe('Not found');
    },
  );

  it('allows 100 configurations per hub and refuses the 101st', async () => {
    for (let index = 0; index < 100; index++) await add(deviceConfiguration(`c-${index}`, 0, '', { a: index }));
    const error = await caught(() => add(deviceConfiguration('c-100', 0, '', { a: 1 })));
    expect(error.response?.statusCode).toBe(403);
    expect(error.message).toMatch(/100 configurations/);
  });
});

describe('application', () => {
  it('writes the winning content as a notified twin update and marks the twin Targeted/Applied', async () => {
    hub.registry.createDevice({ deviceId: 'win-1', tags: { env: 'prod' } });
    hub.registry.createDevice({ deviceId: 'other', tags: { env: 'dev' } });
    changes.length = 0;
    await add(deviceConfiguration('low', 1, "tags.env = 'prod'", { interval: 10, mode: 'low' }));
    await add(deviceConfiguration('high', 5, "tags.env = 'prod'", { interval: 60 }));
    // The low-priority one applied first; the high one replaced its settings (its own keys, the rest removed).
    expect(await desiredOf('win-1')).toEqual({ agent: { interval: 60 } });
    expect(await desiredOf('other')).toEqual({});
    const twin = (await sdk.getTwin('win-1')).responseBody as unknown as Record<string, unknown>;
    expect(twin['configurations']).toEqual({ low: { status: 'Targeted' }, high: { status: 'Applied' } });
    expect(changes.filter((c) => c.kind === 'twinChange' && c.deviceId === 'win-1')).toHaveLength(2);
    expect(changes.some((c) => c.deviceId === 'other')).toBe(false);
    expect((await get('high')).systemMetrics.results).toEqual({ targetedCount: 1, appliedCount: 1 });
    expect((await get('low')).systemMetrics.results).toEqual({ targetedCount: 1, appliedCount: 0 });
    // The hub's own appliedCount query runs on the emulator's query language.
    const applied = await sdk.createQuery((await get('high')).systemMetrics.queries.appliedCount).nextAsTwin();
    expect(applied.result.map((row) => row.deviceId)).toEqual(['win-1']);
  });

  it('gives equal priorities to the most recently created configuration', async () => {
    hub.registry.createDevice({ deviceId: 'tie-1', tags: { env: 'prod' } });
    await add(deviceConfiguration('first', 3, "tags.env = 'prod'", { from: 'first' }));
    await add(deviceConfiguration('second', 3, "tags.env = 'prod'", { from: 'second' }));
    expect(await desiredOf('tie-1')).toEqual({ agent: { from: 'second' } });
  });

  it('applies to new matching twins on the next cycle and removes the settings when a twin stops matching', async () => {
    await add(deviceConfiguration('fallback', 1, "tags.env = 'prod'", { level: 'fallback' }));
    await add(deviceConfiguration('eu', 4, "tags.env = 'prod' AND tags.region = 'eu'", { level: 'eu' }));
    hub.registry.createDevice({ deviceId: 'late', tags: { env: 'prod', region: 'eu' } });
    await eventually(
      async () => JSON.stringify(await desiredOf('late')) === JSON.stringify({ agent: { level: 'eu' } }),
      5_000,
      'eu applied',
    );
    // Out of eu's condition: eu's settings come out and the next winner's go in.
    hub.registry.updateTwin('late', undefined, { tags: { region: 'us' } });
    await eventually(
      async () =>
        (await desiredOf('late'))['agent'] && ((await desiredOf('late'))['agent'] as Record<string, unknown>)['level'] === 'fallback',
      5_000,
      'fallback applied',
    );
    // Out of every condition: the settings are removed and nothing else applies.
    hub.registry.updateTwin('late', undefined, { tags: { env: 'dev' } });
    await eventually(async () => Object.keys(await desiredOf('late')).length === 0, 5_000, 'settings removed');
    const twin = (await sdk.getTwin('late')).responseBody as unknown as Record<string, unknown>;
    expect(twin['configurations']).toBeUndefined();
  });

  it('re-ranks on a priority update, and keeps a deleted configuration’s settings until another one applies', async () => {
    hub.registry.createDevice({ deviceId: 'rank', tags: { env: 'prod' } });
    const a = await add(deviceConfiguration('a', 1, "tags.env = 'prod'", { by: 'a' }));
    await add(deviceConfiguration('b', 2, "tags.env = 'prod'", { by: 'b' }));
    expect(await desiredOf('rank')).toEqual({ agent: { by: 'b' } });
    await sdk.updateConfiguration({ ...a, priority: 3 });
    expect(await desiredOf('rank')).toEqual({ agent: { by: 'a' } });
    await sdk.removeConfiguration('a');
    expect(await desiredOf('rank')).toEqual({ agent: { by: 'b' } });
    await sdk.removeConfiguration('b');
    expect(await desiredOf('rank')).toEqual({ agent: { by: 'b' } });
  });

  it('counts custom metric queries on each evaluation', async () => {
    hub.registry.createDevice({ deviceId: 'm-1', tags: { env: 'prod' } });
    hub.registry.createDevice({ deviceId: 'm-2', tags: { env: 'prod' } });
    await add({
      ...deviceConfiguration('metrics', 1, "tags.env = 'prod'", { v: 2 }),
      metrics: { queries: { done: 'SELECT deviceId FROM devices WHERE properties.reported.agent.v = 2' } },
    });
    hub.devices.setReported('m-1', { agent: { v: 2 } });
    await eventually(async () => (await get('metrics')).metrics.results['done'] === 1, 5_000, 'metric counted');
  });
});

describe('module configurations', () => {
  it('targets module twins FROM devices.modules and leaves device twins alone', async () => {
    hub.registry.createDevice({ deviceId: 'mod-1' });
    hub.registry.createModule({ deviceId: 'mod-1', moduleId: 'DefenderIotMicroAgent' });
    hub.registry.createModule({ deviceId: 'mod-1', moduleId: 'other' });
    const created = await add({
      id: 'agent-settings',
      priority: 2,
      targetCondition: "FROM devices.modules WHERE moduleId = 'DefenderIotMicroAgent'",
      content: { moduleContent: { 'properties.desired': { Baseline_Collection_Frequency: 3600 } } },
    });
    expect(created.systemMetrics).toEqual({
      results: { targetedCount: 1, appliedCount: 1 },
      queries: {
        targetedCount: "select deviceId, moduleId FROM devices.modules WHERE moduleId = 'DefenderIotMicroAgent'",
        appliedCount: "select deviceId, moduleId from devices.modules where configurations.[[agent-settings]].status = 'Applied'",
      },
    });
    expect(await desiredOf('mod-1', 'DefenderIotMicroAgent')).toEqual({ Baseline_Collection_Frequency: 3600 });
    expect(await desiredOf('mod-1', 'other')).toEqual({});
    expect(await desiredOf('mod-1')).toEqual({});
  });
});

describe('Edge deployments', () => {
  it('apply the winning deployment to matching Edge devices only and keep it when a device stops matching', async () => {
    hub.registry.createDevice({ deviceId: 'gw-1', capabilities: { iotEdge: true }, tags: { site: 'a' } });
    hub.registry.createDevice({ deviceId: 'leaf-2', tags: { site: 'a' } });
    const deployment = (id: string, priority: number, version: string) => ({
      id,
      priority,
      targetCondition: "tags.site = 'a'",
      content: { modulesContent: { $edgeAgent: { 'properties.desired': { schemaVersion: '1.1', modules: { app: { version } } } } } },
    });
    await add(deployment('base-deploy', 1, '1.0'));
    await add(deployment('canary-deploy', 2, '2.0'));
    expect(await desiredOf('gw-1', '$edgeAgent')).toEqual({ schemaVersion: '1.1', modules: { app: { version: '2.0' } } });
    expect(hub.registry.findTwin('leaf-2', '$edgeAgent')).toBeUndefined();
    expect((await get('canary-deploy')).systemMetrics.results).toEqual({ targetedCount: 1, appliedCount: 1 });
    expect((await get('base-deploy')).systemMetrics.results).toEqual({ targetedCount: 1, appliedCount: 0 });
    hub.registry.updateTwin('gw-1', undefined, { tags: { site: 'b' } });
    hub.configurations.evaluate();
    expect(await desiredOf('gw-1', '$edgeAgent')).toEqual({ schemaVersion: '1.1', modules: { app: { version: '2.0' } } });
    expect((await get('canary-deploy')).systemMetrics.results).toEqual({ targetedCount: 0, appliedCount: 0 });
  });
});

describe('applyConfigurationContentOnDevice', () => {
  it('writes modulesContent to an Edge device’s module twins and refuses other devices', async () => {
    hub.registry.createDevice({ deviceId: 'edge-1', capabilities: { iotEdge: true } });
    hub.registry.createDevice({ deviceId: 'leaf-1' });
    await sdk.applyConfigurationContentOnDevice('edge-1', {
      modulesContent: {
        $edgeAgent: { 'properties.desired': { schemaVersion: '1.1', modules: {} } },
        $edgeHub: { 'properties.desired': { schemaVersion: '1.1', routes: {} } },
      },
    });
    expect(await desiredOf('edge-1', '$edgeAgent')).toEqual({ schemaVersion: '1.1', modules: {} });
    expect(await desiredOf('edge-1', '$edgeHub')).toEqual({ schemaVersion: '1.1', routes: {} });
    const notEdge = await caught(() => sdk.applyConfigurationContentOnDevice('leaf-1', { deviceContent: { 'properties.desired.x': 1 } }));
    expect(notEdge.response?.statusCode).toBe(400);
    expect((await caught(() => sdk.applyConfigurationContentOnDevice('nobody', { modulesContent: {} }))).response?.statusCode).toBe(404);
  });
});

describe('throttling', () => {
  afterEach(() => hub.faults.reset());

  it('configuration calls have their own quota class, 20 per minute per unit on S1, answered 429 as ThrottlingError', async () => {
    hub.faults.configureThrottling({ tier: 'S1', units: 1 });
    // Registry calls do not draw on the configurations quota.
    hub.registry.createDevice({ deviceId: 'quota-1' });
    await sdk.get('quota-1');
    const answers = [];
    for (let i = 0; i < 21; i++)
      answers.push(
        await sdk.getConfigurations().then(
          () => 'ok',
          (error: Error) => error.name,
        ),
      );
    expect(answers.slice(0, 20).every((answer) => answer === 'ok')).toBe(true);
    expect(answers[20]).toBe('ThrottlingError');
    await expect(sdk.get('quota-1')).resolves.toBeDefined();
  });
});
