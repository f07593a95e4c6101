/**
 * The simulated security agents as real azure-iot-device ModuleClients over the emulator's MQTT endpoint: each
 * connects with its module's own credentials, reads its twin, follows desired changes made through azure-iothub and
 * reports; the modes fail, silence and disconnect it; deletion and hub.stop() close its connection.
 */
import { ModuleClient } from 'azure-iot-device';
import type { Registry } from 'azure-iothub';
import type { HubChange } from '../../emulator/hub-events';
import { IotHubEmulator } from '../../emulator/index';
import { localMqttTransport } from '../../emulator/mqtt/local-device-transport';
import { closeRegistryClient, createRegistryClient } from '../../shared/adapters/registry-client';
import { eventually } from '../../testing/eventually';

const MICRO = 'DefenderIotMicroAgent';
const LEGACY = 'azureiotsecurity';
const LEGACY_KEY = 'azureiot*com^securityAgentConfiguration^1*0*0';

let emulator: IotHubEmulator;
let sdk: Registry;
const changes: HubChange[] = [];

beforeAll(async () => {
  emulator = await IotHubEmulator.start({ routes: ['DeviceLifecycleEvents', 'TwinChangeEvents', 'DeviceConnectionStateEvents'] });
  emulator.registry.onChange((change) => changes.push(change));
  sdk = createRegistryClient({ connectionString: emulator.serviceConnectionString, serviceEndpoint: emulator.registryUrl });
});

afterAll(async () => {
  closeRegistryClient(sdk);
  await emulator.stop();
});

interface ModuleTwinView {
  connectionState?: string;
  lastActivityTime?: string;
  properties: { desired: Record<string, unknown>; reported: Record<string, unknown> };
}

async function moduleTwin(deviceId: string, moduleId = MICRO): Promise<ModuleTwinView> {
  return (await sdk.getModuleTwin(deviceId, moduleId)).responseBody;
}

async function createWithModule(deviceId: string, moduleId = MICRO, auth: 'sas' | 'certificateAuthority' = 'sas'): Promise<void> {
  await sdk.create({ deviceId, status: 'enabled', authentication: { type: auth } });
  await sdk.addModule({ deviceId, moduleId, authentication: { type: auth } } as Parameters<Registry['addModule']>[0]);
}

function desire(deviceId: string, desired: Record<string, unknown>, moduleId = MICRO): Promise<unknown> {
  return sdk.updateModuleTwin(deviceId, moduleId, { properties: { desired } }, '*');
}

describe('security agents over MQTT', () => {
  it('connects with the module identity, reads the twin and reports its effective configuration; follows desired changes', async () => {
    const accepted = emulator.mqtt.stats.accepted;
    await createWithModule('agent-a1');
    await emulator.agents.whenIdle();

    expect(emulator.mqtt.isConnected('agent-a1', MICRO)).toBe(true);
    expect(emulator.mqtt.isSubscribed('agent-a1', MICRO, 'desiredUpdates')).toBe(true);
    expect(emulator.mqtt.stats.accepted).toBe(accepted + 1);
    let twin = await moduleTwin('agent-a1');
    expect(twin.connectionState).toBe('Connected');
    expect(twin.properties.reported).toMatchObject({
      latest_state: 'success',
      latest_invalid_fields: [],
      CollectorsCore_PriorityIntervals: '30,120,1440',
      Process_MessageFrequency: 'Medium',
    });
    // The report came over the module's own connection: the hub recorded the connect of that module.
    expect(changes).toContainEqual(
      expect.objectContaining({ kind: 'connectionState', opType: 'deviceConnected', deviceId: 'agent-a1', moduleId: MICRO }),
    );

    const pushes = emulator.mqtt.stats.desiredPushes;
    await desire('agent-a1', { Process_MessageFrequency: 'High', Login_UsePAM: true });
    await emulator.agents.whenIdle();
    expect(emulator.mqtt.stats.desiredPushes).toBe(pushes + 1);
    twin = await moduleTwin('agent-a1');
    expect(twin.properties.reported).toMatchObject({ latest_state: 'success', Process_MessageFrequency: 'High', Login_UsePAM: true });

    // Invalid values are named, as the micro agent does.
    await desire('agent-a1', { Process_Mode: 7 });
    await emulator.agents.whenIdle();
    twin = await moduleTwin('agent-a1');
    expect(twin.properties.reported).toMatchObject({ latest_state: 'failed', latest_invalid_fields: ['Process_Mode'] });
  });

  it('a desired change between its twin GET and its desired SUBSCRIBE (no push) is picked up by a second read', async () => {
    const registry = emulator.registry;
    const getTwin = registry.getTwin.bind(registry);
    let changed = false;
    // The change lands while the MQTT GET is answered: the response carries the old version, and the agent has not
    // subscribed to desired updates yet (the SDK subscribes once the GET returned), so the hub pushes nothing.
    const spy = jest.spyOn(registry, 'getTwin').mockImplementation((deviceId, moduleId) => {
      const twin = getTwin(deviceId, moduleId);
      if (deviceId === 'agent-gap' && moduleId === MICRO && !changed) {
        changed = true;
        registry.updateTwin(deviceId, moduleId, { properties: { desired: { Process_MessageFrequency: 'High' } } });
      }
      return twin;
    });
    try {
      const pushes = emulator.mqtt.stats.desiredPushes;
      registry.createDevice({ deviceId: 'agent-gap' });
      registry.createModule({ deviceId: 'agent-gap', moduleId: MICRO });
      await emulator.agents.whenIdle();
      expect(changed).toBe(true);
      expect(emulator.mqtt.stats.desiredPushes).toBe(pushes);
      expect((await moduleTwin('agent-gap')).properties.reported).toMatchObject({
        latest_state: 'success',
        Process_MessageFrequency: 'High',
      });
    } finally {
      spy.mockRestore();
    }
  });

  it('rejectConfiguration reports failed naming the rejected keys and keeps the old configuration', async () => {
    await createWithModule('agent-r1');
    await emulator.agents.whenIdle();
    emulator.agents.setMode('agent-r1', 'rejectConfiguration', { rejectKeys: ['Login_Disabled'] });
    await desire('agent-r1', { Login_Disabled: true, Process_MessageFrequency: 'Low' });
    await emulator.agents.whenIdle();
    const twin = await moduleTwin('agent-r1');
    expect(twin.properties.reported).toMatchObject({
      latest_state: 'failed',
      latest_invalid_fields: ['Login_Disabled'],
      Process_MessageFrequency: 'Medium',
    });
  });

  it('silent stays connected and reports nothing; healthy again reports the next change', async () => {
    emulator.agents.setMode('agent-s1', 'silent');
    await createWithModule('agent-s1');
    await emulator.agents.whenIdle();
    await desire('agent-s1', { Process_MessageFrequency: 'High' });
    await emulator.agents.whenIdle();
    let twin = await moduleTwin('agent-s1');
    expect(twin.connectionState).toBe('Connected');
    expect(twin.properties.reported).toEqual({ $metadata: { $lastUpdated: '0001-01-01T00:00:00Z' }, $version: 1 });

    emulator.agents.setMode('agent-s1', 'healthy');
    await desire('agent-s1', { Heartbeat_MessageFrequency: 'High' });
    await emulator.agents.whenIdle();
    twin = await moduleTwin('agent-s1');
    expect(twin.properties.reported).toMatchObject({
      latest_state: 'success',
      Process_MessageFrequency: 'High',
      Heartbeat_MessageFrequency: 'High',
    });
  });

  it('disconnected closes the connection (state and activity go stale); back to healthy it reconnects and resynchronises', async () => {
    await createWithModule('agent-d1');
    await emulator.agents.whenIdle();
    emulator.agents.setMode('agent-d1', 'disconnected');
    await emulator.agents.whenIdle();
    expect(emulator.mqtt.isConnected('agent-d1', MICRO)).toBe(false);
    const down = await moduleTwin('agent-d1');
    expect(down.connectionState).toBe('Disconnected');
    expect(changes).toContainEqual(
      expect.objectContaining({ kind: 'connectionState', opType: 'deviceDisconnected', deviceId: 'agent-d1', moduleId: MICRO }),
    );

    // While disconnected, desired changes wait on the hub; nothing reports and the activity time stays where it was.
    await desire('agent-d1', { Process_MessageFrequency: 'High' });
    await emulator.agents.whenIdle();
    const waiting = await moduleTwin('agent-d1');
    expect(waiting.lastActivityTime).toBe(down.lastActivityTime);
    expect(waiting.properties.reported['Process_MessageFrequency']).toBe('Medium');
    expect(emulator.agents.isRunning('agent-d1', MICRO)).toBe(false);

    emulator.agents.setMode('agent-d1', 'healthy');
    await emulator.agents.whenIdle();
    const back = await moduleTwin('agent-d1');
    expect(back.connectionState).toBe('Connected');
    expect(back.properties.reported['Process_MessageFrequency']).toBe('High');
  });

  it('the legacy agent echoes its configuration object with defaults filled in', async () => {
    await createWithModule('agent-l1', LEGACY);
    await desire('agent-l1', { [LEGACY_KEY]: { snapshotFrequency: 'PT1H' } }, LEGACY);
    await emulator.agents.whenIdle();
    const twin = await moduleTwin('agent-l1', LEGACY);
    expect(twin.properties.reported[LEGACY_KEY]).toMatchObject({ snapshotFrequency: 'PT1H', highPriorityMessageFrequency: 'PT7M' });
    expect(emulator.mqtt.isConnected('agent-l1', LEGACY)).toBe(true);
  });

  it('an X.509 (CA) module, which has no keys, connects with a device-policy token scoped to the module', async () => {
    await createWithModule('agent-x1', MICRO, 'certificateAuthority');
    await emulator.agents.whenIdle();
    expect(emulator.mqtt.isConnected('agent-x1', MICRO)).toBe(true);
    expect((await moduleTwin('agent-x1')).properties.reported).toMatchObject({ latest_state: 'success' });
  });

  it('a module of a disabled device is refused; the agent gives up instead of retrying', async () => {
    const refused = emulator.mqtt.stats.refused;
    await sdk.create({ deviceId: 'agent-off', status: 'disabled' });
    await sdk.addModule({ deviceId: 'agent-off', moduleId: MICRO });
    await emulator.agents.whenIdle();
    expect(emulator.mqtt.stats.refused).toBe(refused + 1);
    expect(emulator.agents.isRunning('agent-off', MICRO)).toBe(false);
    expect((await moduleTwin('agent-off')).properties.reported).not.toHaveProperty('latest_state');
  });

  it('device code connecting with the module identity displaces the simulated agent, which then stays out of its way', async () => {
    await createWithModule('agent-own');
    await emulator.agents.whenIdle();
    expect(emulator.agents.isRunning('agent-own', MICRO)).toBe(true);
    const own = ModuleClient.fromConnectionString(
      emulator.deviceConnectionString('agent-own', MICRO),
      localMqttTransport(emulator.mqttPort),
    );
    try {
      await own.open();
      const twin = await own.getTwin();
      const pushes: Array<Record<string, unknown>> = [];
      twin.on('properties.desired', (patch: Record<string, unknown>) => pushes.push(patch));
      await eventually(() => !emulator.agents.isRunning('agent-own', MICRO), 5000, 'the simulated agent to be displaced');
      await eventually(() => emulator.mqtt.isSubscribed('agent-own', MICRO, 'desiredUpdates'), 5000, 'the own client to subscribe');
      const before = (await moduleTwin('agent-own')).properties.reported;

      await desire('agent-own', { Process_MessageFrequency: 'High' });
      await emulator.agents.whenIdle();
      await eventually(() => pushes.find((patch) => patch['Process_MessageFrequency'] === 'High'), 5000, 'the push to the own client');
      expect(emulator.agents.isRunning('agent-own', MICRO)).toBe(false);
      expect(emulator.mqtt.isConnected('agent-own', MICRO)).toBe(true);
      expect((await moduleTwin('agent-own')).properties.reported).toEqual(before);
    } finally {
      await own.close();
    }
  });

  it('deleting the device closes its agent; modules the agents do not serve get none', async () => {
    await createWithModule('agent-del');
    await sdk.addModule({ deviceId: 'agent-del', moduleId: 'SomeOtherModule' });
    await emulator.agents.whenIdle();
    expect(emulator.agents.isRunning('agent-del', MICRO)).toBe(true);
    expect(emulator.mqtt.isConnected('agent-del', 'SomeOtherModule')).toBe(false);
    await sdk.delete('agent-del');
    await emulator.agents.whenIdle();
    expect(emulator.agents.isRunning('agent-del', MICRO)).toBe(false);
    await eventually(() => !emulator.mqtt.isConnected('agent-del', MICRO), 5000, 'the connection to close');
  });
});

/** Sockets and servers open in this process (Node's resource names for TCP handles). */
function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap' || name === 'TCPServerWrap').length;
}

it('hub.stop() closes every agent connection and leaves no socket behind', async () => {
  const before = tcpHandles();
  const hub = await IotHubEmulator.start({ agent: { reportDelayMs: 0 } });
  hub.registry.createDevice({ deviceId: 'stop-1' });
  hub.registry.createModule({ deviceId: 'stop-1', moduleId: MICRO });
  hub.registry.createDevice({ deviceId: 'stop-2' });
  hub.registry.createModule({ deviceId: 'stop-2', moduleId: LEGACY });
  await hub.agents.whenIdle();
  expect(hub.mqtt.connectionCount).toBe(2);
  expect(hub.agents.runningCount).toBe(2);
  await hub.stop();
  expect(hub.agents.runningCount).toBe(0);
  await eventually(() => tcpHandles() === before, 5000, `the TCP handles to return to ${before} (now ${tcpHandles()})`);
});
