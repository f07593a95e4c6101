/**
 * Connecting over MQTT with the real azure-iot-device clients: the connection-state fields of the registry, the
 * deviceConnectionStateEvents notifications when that source is routed, refused credentials (CONNACK 5, which the SDK
 * reports as UnauthorizedError), and the hub's one-connection-per-identity rule.
 */
import { createHmac } from 'node:crypto';
import { Client, SharedAccessSignature } from 'azure-iot-device';
import { IotHubEmulator } from '../../emulator/index';
import { localMqttTransport } from '../../emulator/mqtt/local-device-transport';
import { eventually } from '../../testing/eventually';
import { DeviceClients, NO_RETRY } from '../../testing/mqtt-device-clients';
import { messageSourceOf, readDeviceEvents } from '../../testing/mqtt-events';
import { caught } from '../support/caught';

let emulator: IotHubEmulator;
let clients: DeviceClients;

beforeAll(async () => {
  emulator = await IotHubEmulator.start({ routes: ['DeviceMessages', 'DeviceConnectionStateEvents'] });
});

afterAll(async () => {
  await emulator.stop();
});

beforeEach(() => {
  clients = new DeviceClients(emulator);
});

afterEach(async () => {
  await clients.closeAll();
});

const WRONG_KEY = Buffer.alloc(32, 7).toString('base64');

describe('connection state', () => {
  it('connect and disconnect update connectionState, connectionStateUpdatedTime and lastActivityTime', async () => {
    emulator.registry.createDevice({ deviceId: 'conn-d1' });
    emulator.registry.createModule({ deviceId: 'conn-d1', moduleId: 'agent' });
    const initial = emulator.registry.getDevice('conn-d1');
    expect(initial.connectionState).toBe('Disconnected');
    expect(initial.connectionStateUpdatedTime).toBe('0001-01-01T00:00:00Z');

    const agent = clients.module('conn-d1', 'agent');
    await agent.open();
    const connected = emulator.registry.getModule('conn-d1', 'agent');
    expect(connected.connectionState).toBe('Connected');
    expect(Date.parse(connected.connectionStateUpdatedTime)).toBeGreaterThan(Date.now() - 60_000);
    expect(connected.lastActivityTime).toBe(connected.connectionStateUpdatedTime);
    expect(emulator.registry.getDevice('conn-d1').connectionState).toBe('Disconnected');

    await agent.close();
    const disconnected = await eventually(
      () => {
        const module = emulator.registry.getModule('conn-d1', 'agent');
        return module.connectionState === 'Disconnected' ? module : undefined;
      },
      5000,
      'Disconnected',
    );
    expect(Date.parse(disconnected.connectionStateUpdatedTime)).toBeGreaterThanOrEqual(Date.parse(connected.connectionStateUpdatedTime));
  });

  it('emits deviceConnected / deviceDisconnected notifications with increasing sequence numbers when routed', async () => {
    emulator.registry.createDevice({ deviceId: 'conn-d2' });
    const client = clients.device('conn-d2');
    await client.open();
    await client.close();
    const events = await readDeviceEvents(emulator, 'conn-d2', 2, (event) => messageSourceOf(event) === 'deviceConnectionStateEvents');
    expect(events.map((event): unknown => event.properties?.['opType'])).toEqual(['deviceConnected', 'deviceDisconnected']);
    expect(events[0]?.properties).toMatchObject({ deviceId: 'conn-d2', 'iothub-message-schema': 'deviceConnectionStateNotification' });
    const [first, second] = events.map((event) => (event.body as { sequenceNumber: string }).sequenceNumber);
    expect(first).toMatch(/^[0-9a-f]+$/);
    expect((second ?? '') > (first ?? '')).toBe(true);
  });
});

describe('refused credentials', () => {
  async function refusal(client: Client): Promise<Error> {
    client.setRetryPolicy(NO_RETRY);
    return caught(() => client.open());
  }

  it('refuses a wrong key, an unknown identity, a disabled device and an expired token as not authorized', async () => {
    emulator.registry.createDevice({ deviceId: 'auth-d1' });
    emulator.registry.createDevice({ deviceId: 'auth-d2', status: 'disabled' });
    const host = emulator.hostName;

    const wrongKey = await refusal(clients.device('auth-d1', `HostName=${host};DeviceId=auth-d1;SharedAccessKey=${WRONG_KEY}`));
    const unknown = await refusal(clients.device('auth-nobody', `HostName=${host};DeviceId=auth-nobody;SharedAccessKey=${WRONG_KEY}`));
    const disabled = await refusal(clients.device('auth-d2'));
    const key = emulator.registry.keysOf('auth-d1')?.primaryKey ?? '';
    const expired = SharedAccessSignature.create(host, 'auth-d1', key, Math.floor(Date.now() / 1000) - 60).toString();
    const expiredClient = Client.fromSharedAccessSignature(expired, localMqttTransport(emulator.mqttPort));
    const expiredError = await refusal(expiredClient);
    await expiredClient.close().catch(() => undefined);

    for (const error of [wrongKey, unknown, disabled, expiredError]) {
      expect(error.name).toBe('UnauthorizedError');
      expect(error.message).toMatch(/Not authorized/i);
    }
    expect(emulator.registry.getDevice('auth-d1').connectionState).toBe('Disconnected');
    expect(emulator.mqtt.stats.refused).toBeGreaterThanOrEqual(4);
  });

  it('accepts a token signed with the hub device policy (skn=device) and a module token only for its module', async () => {
    emulator.registry.createDevice({ deviceId: 'auth-d3' });
    emulator.registry.createModule({ deviceId: 'auth-d3', moduleId: 'agent' });
    const client = clients.module('auth-d3', 'agent');
    await client.open();
    expect(emulator.mqtt.isConnected('auth-d3', 'agent')).toBe(true);

    const policyKey = /SharedAccessKey=([^;]+)/.exec(emulator.connectionStringFor('device'))?.[1] ?? '';
    const sr = encodeURIComponent(`${emulator.hostName}/devices/auth-d3`);
    const se = Math.floor(Date.now() / 1000) + 600;
    const sig = encodeURIComponent(createHmac('sha256', Buffer.from(policyKey, 'base64')).update(`${sr}\n${se}`).digest('base64'));
    const policyClient = Client.fromSharedAccessSignature(
      `SharedAccessSignature sr=${sr}&sig=${sig}&se=${se}&skn=device`,
      localMqttTransport(emulator.mqttPort),
    );
    policyClient.setRetryPolicy(NO_RETRY);
    await policyClient.open();
    expect(emulator.mqtt.isConnected('auth-d3')).toBe(true);
    await policyClient.close();

    const moduleKey = emulator.registry.keysOf('auth-d3', 'agent')?.primaryKey ?? '';
    const asDevice = await refusal(
      clients.device('auth-d3', `HostName=${emulator.hostName};DeviceId=auth-d3;SharedAccessKey=${moduleKey}`),
    );
    expect(asDevice.name).toBe('UnauthorizedError');
  });
});

describe('one connection per identity', () => {
  it('a second connection with the same client id drops the first', async () => {
    emulator.registry.createDevice({ deviceId: 'dup-d1' });
    const first = clients.device('dup-d1');
    first.setRetryPolicy(NO_RETRY);
    const firstDisconnected = new Promise<void>((resolve) => first.once('disconnect', () => resolve()));
    await first.open();
    const second = clients.device('dup-d1');
    await second.open();
    await firstDisconnected;

    expect(emulator.mqtt.stats.dropped).toBe(1);
    expect(emulator.mqtt.isConnected('dup-d1')).toBe(true);
    expect(emulator.registry.getDevice('dup-d1').connectionState).toBe('Connected');
    const twin = await second.getTwin();
    expect(twin.properties.reported).toMatchObject({ $version: 1 });
  });
});
