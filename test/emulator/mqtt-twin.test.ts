/**
 * Device and module twins through the real azure-iot-device clients over MQTT: get, reported patch, desired push,
 * and the twin-change notification a device's patch produces (the same code path as DeviceSide.setReported).
 */
import type { Twin } from 'azure-iot-device';
import type { HubChange } from '../../emulator/hub-events';
import { IotHubEmulator } from '../../emulator/index';
import { eventually } from '../../testing/eventually';
import { DeviceClients } from '../../testing/mqtt-device-clients';
import { messageSourceOf, readDeviceEvents } from '../../testing/mqtt-events';

let emulator: IotHubEmulator;
let clients: DeviceClients;
const changes: HubChange[] = [];

beforeAll(async () => {
  emulator = await IotHubEmulator.start();
  emulator.registry.onChange((change) => changes.push(change));
});

afterAll(async () => {
  await emulator.stop();
});

beforeEach(() => {
  clients = new DeviceClients(emulator);
  changes.length = 0;
});

afterEach(async () => {
  await clients.closeAll();
});

function report(twin: Twin, patch: Record<string, unknown>): Promise<void> {
  const reported = twin.properties.reported as { update(patch: unknown, done: (error?: Error) => void): void };
  return new Promise((resolve, reject) => reported.update(patch, (error) => (error ? reject(error) : resolve())));
}

describe('device twin over MQTT', () => {
  it('gets the twin properties, patches reported properties (null deletes) and sees the versions move', async () => {
    emulator.registry.createDevice({ deviceId: 'twin-d1' });
    emulator.registry.updateTwin('twin-d1', undefined, { properties: { desired: { interval: 30 } } });
    const client = clients.device('twin-d1');
    await client.open();
    const twin = await client.getTwin();
    expect(twin.properties.desired).toMatchObject({ interval: 30, $version: 2 });
    expect(twin.properties.reported).toMatchObject({ $version: 1 });
    expect(Object.keys(twin.properties.desired)).not.toContain('$metadata');

    await report(twin, { firmware: '1.2.3', battery: 80, nested: { a: 1, b: 2 } });
    await report(twin, { battery: null, nested: { b: null } });
    const stored = emulator.registry.getTwin('twin-d1') as unknown as { properties: { reported: Record<string, unknown> } };
    expect(stored.properties.reported).toMatchObject({ firmware: '1.2.3', nested: { a: 1 }, $version: 3 });
    expect(stored.properties.reported).not.toHaveProperty('battery');

    const fresh = await client.getTwin();
    expect(fresh.properties.reported).toMatchObject({ firmware: '1.2.3', $version: 3 });
  });

  it('pushes desired-property patches (with $version and deletions) to a subscribed device', async () => {
    emulator.registry.createDevice({ deviceId: 'twin-d2' });
    emulator.registry.updateTwin('twin-d2', undefined, { properties: { desired: { keep: 1, drop: 2 } } });
    const client = clients.device('twin-d2');
    await client.open();
    const twin = await client.getTwin();
    const patches: Array<Record<string, unknown>> = [];
    twin.on('properties.desired', (patch: Record<string, unknown>) => patches.push(patch));
    // The first event replays the current desired section once the listener is added.
    await eventually(() => patches.length >= 1, 5000, 'initial desired event');
    await eventually(() => subscribedToDesired('twin-d2'), 5000, 'desired subscription');

    emulator.registry.updateTwin('twin-d2', undefined, { properties: { desired: { drop: null, added: { x: true } } } });
    // The SDK also re-emits the whole desired section after a twin GET; the push is the event carrying the deletion.
    const pushed = await eventually(() => patches.find((patch) => patch['drop'] === null), 5000, 'desired push');
    expect(pushed).toEqual({ drop: null, added: { x: true }, $version: 3 });
    expect(twin.properties.desired).toMatchObject({ keep: 1, added: { x: true }, $version: 3 });
    expect(twin.properties.desired).not.toHaveProperty('drop');
  });

  it('a device patch produces the same twin-change notification as DeviceSide.setReported', async () => {
    emulator.registry.createDevice({ deviceId: 'twin-d3' });
    emulator.registry.createDevice({ deviceId: 'twin-d4' });
    const client = clients.device('twin-d3');
    await client.open();
    await report(await client.getTwin(), { state: 'ok', level: 2 });
    emulator.devices.setReported('twin-d4', { state: 'ok', level: 2 });

    const twinChanges = changes.filter((change) => change.kind === 'twinChange');
    const [fromDevice, fromSimulation] = ['twin-d3', 'twin-d4'].map((id) => twinChanges.find((change) => change.deviceId === id));
    expect(fromDevice).toBeDefined();
    const shape = (change: HubChange | undefined): unknown =>
      JSON.parse(JSON.stringify(change?.kind === 'twinChange' ? change.body : {}).replace(/"\d{4}-[^"]+Z"/g, '"T"'));
    expect(shape(fromDevice)).toEqual(shape(fromSimulation));

    const [event] = await readDeviceEvents(emulator, 'twin-d3', 1, (e) => messageSourceOf(e) === 'twinChangeEvents');
    expect(event?.properties).toMatchObject({
      opType: 'updateTwin',
      deviceId: 'twin-d3',
      'iothub-message-schema': 'twinChangeNotification',
    });
    expect(event?.body).toMatchObject({ properties: { reported: { state: 'ok', level: 2, $version: 2 } } });
  });

  it('answers a malformed reported patch with an error the SDK surfaces', async () => {
    emulator.registry.createDevice({ deviceId: 'twin-d5' });
    const client = clients.device('twin-d5');
    await client.open();
    const twin = await client.getTwin();
    await expect(report(twin, { 'bad.key': 1 })).rejects.toThrow(/bad\.key|invalid|not allowed/i);
  });
});

describe('module twin over MQTT', () => {
  it('gets, patches and receives desired pushes on the module identity only', async () => {
    emulator.registry.createDevice({ deviceId: 'twin-m1' });
    emulator.registry.createModule({ deviceId: 'twin-m1', moduleId: 'agent' });
    emulator.registry.updateTwin('twin-m1', 'agent', { properties: { desired: { mode: 'a' } } });
    const client = clients.module('twin-m1', 'agent');
    await client.open();
    const twin = await client.getTwin();
    expect(twin.properties.desired).toMatchObject({ mode: 'a', $version: 2 });

    await report(twin, { latest_state: 'Succeeded' });
    const moduleTwin = emulator.registry.getTwin('twin-m1', 'agent') as unknown as { properties: { reported: Record<string, unknown> } };
    expect(moduleTwin.properties.reported).toMatchObject({ latest_state: 'Succeeded', $version: 2 });
    const deviceTwin = emulator.registry.getTwin('twin-m1') as unknown as { properties: { reported: Record<string, unknown> } };
    expect(deviceTwin.properties.reported).not.toHaveProperty('latest_state');
    const moduleChange = changes.find((change) => change.kind === 'twinChange' && change.moduleId === 'agent');
    expect(moduleChange).toBeDefined();

    const patches: Array<Record<string, unknown>> = [];
    twin.on('properties.desired', (patch: Record<string, unknown>) => patches.push(patch));
    await eventually(() => subscribedToDesired('twin-m1/agent'), 5000, 'desired subscription');
    emulator.registry.updateTwin('twin-m1', undefined, { properties: { desired: { deviceOnly: 1 } } });
    emulator.registry.updateTwin('twin-m1', 'agent', { properties: { desired: { mode: 'b' } } });
    const pushed = await eventually(() => patches.find((patch) => patch['mode'] === 'b'), 5000, 'module desired push');
    expect(pushed).toEqual({ mode: 'b', $version: 3 });
    expect(patches.some((patch) => 'deviceOnly' in patch)).toBe(false);
  });
});

/** Whether the identity's connection subscribed to desired updates (the SDK subscribes asynchronously). */
function subscribedToDesired(clientId: string): boolean {
  const [deviceId, moduleId] = clientId.split('/') as [string, string | undefined];
  return emulator.mqtt.isSubscribed(deviceId, moduleId, 'desiredUpdates');
}
