/**
 * Device-to-cloud telemetry from the real azure-iot-device clients over MQTT, as an @azure/event-hubs consumer of the
 * emulator's built-in endpoint receives it: body bytes, system properties from the property bag, IoT Hub's
 * connection annotations and application properties.
 */
import type { ReceivedEventData } from '@azure/event-hubs';
import { Message } from 'azure-iot-device';
import { IotHubEmulator } from '../../emulator/index';
import { DeviceClients } from '../../testing/mqtt-device-clients';
import { messageSourceOf, readDeviceEvents } from '../../testing/mqtt-events';

let emulator: IotHubEmulator;
let clients: DeviceClients;

beforeAll(async () => {
  emulator = await IotHubEmulator.start({ routes: ['DeviceMessages', 'TwinChangeEvents'] });
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

const isTelemetry = (event: ReceivedEventData): boolean => messageSourceOf(event) === 'Telemetry';

describe('telemetry over MQTT', () => {
  it('routes a JSON message with system and application properties to the built-in endpoint', async () => {
    const device = emulator.registry.createDevice({ deviceId: 'tel-d1' });
    const client = clients.device('tel-d1');
    await client.open();
    const message = new Message(JSON.stringify({ temperature: 21.5 }));
    message.messageId = 'msg-1';
    message.correlationId = 'corr-1';
    message.contentType = 'application/json';
    message.contentEncoding = 'utf-8';
    message.properties.add('alert', 'yes & no');
    message.properties.add('level', '3');
    const before = Date.now();
    await client.sendEvent(message);

    const [event] = await readDeviceEvents(emulator, 'tel-d1', 1, isTelemetry);
    expect(event?.body).toEqual({ temperature: 21.5 });
    expect(event?.messageId).toBe('msg-1');
    expect(event?.correlationId).toBe('corr-1');
    expect(event?.contentType).toBe('application/json');
    expect(event?.properties).toEqual({ alert: 'yes & no', level: '3' });
    const system = event?.systemProperties ?? {};
    expect(system['iothub-connection-device-id']).toBe('tel-d1');
    expect(system['iothub-connection-module-id']).toBeUndefined();
    expect(system['iothub-connection-auth-generation-id']).toBe(device.generationId);
    expect(JSON.parse(String(system['iothub-connection-auth-method']))).toEqual({
      scope: 'device',
      type: 'sas',
      issuer: 'iothub',
      acceptingIpFilterRule: null,
    });
    expect(system['iothub-message-source']).toBe('Telemetry');
    expect(Number(system['iothub-enqueuedtime'])).toBeGreaterThanOrEqual(before - 1000);
    expect(system['content-encoding'] ?? system['contentEncoding']).toBe('utf-8');
  });

  it('keeps binary bodies byte for byte and tags module telemetry with the module id', async () => {
    emulator.registry.createDevice({ deviceId: 'tel-d2' });
    emulator.registry.createModule({ deviceId: 'tel-d2', moduleId: 'collector' });
    const client = clients.module('tel-d2', 'collector');
    await client.open();
    const bytes = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f, 0x00, 0xc3, 0x28]);
    const message = new Message(bytes);
    // The SDK types contentType as 'application/json' only; any MIME type goes on the wire as $.ct.
    (message as { contentType: string }).contentType = 'application/octet-stream';
    await client.sendEvent(message);

    const [event] = await readDeviceEvents(emulator, 'tel-d2', 1, isTelemetry);
    expect(Buffer.from(event?.body as Uint8Array)).toEqual(bytes);
    expect(event?.contentType).toBe('application/octet-stream');
    expect(event?.systemProperties?.['iothub-connection-module-id']).toBe('collector');
    expect((JSON.parse(String(event?.systemProperties?.['iothub-connection-auth-method'])) as { scope: string }).scope).toBe('module');
  });

  it('moves lastActivityTime when the device sends', async () => {
    emulator.registry.createDevice({ deviceId: 'tel-d3' });
    const client = clients.device('tel-d3');
    await client.open();
    const connectedAt = emulator.registry.getDevice('tel-d3').lastActivityTime;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await client.sendEvent(new Message('ping'));
    expect(Date.parse(emulator.registry.getDevice('tel-d3').lastActivityTime)).toBeGreaterThan(Date.parse(connectedAt));
  });
});
