/**
 * Direct methods end to end: azure-iothub `Client.invokeDeviceMethod` over HTTP to the emulator, the request pushed
 * over MQTT to a real azure-iot-device client (device and module), the device's answer back to the service; the hub's
 * 404 DeviceNotOnline and 504 GatewayTimeout; cloud-to-device messages to a subscribed device.
 */
import type { DeviceMethodRequest, DeviceMethodResponse } from 'azure-iot-device';
import { Message } from 'azure-iot-device';
import { IotHubEmulator } from '../../emulator/index';
import { eventually } from '../../testing/eventually';
import { DeviceClients } from '../../testing/mqtt-device-clients';
import { serviceClientFor, type ServiceClientHandle } from '../../testing/mqtt-service-client';
import { caught } from '../support/caught';

let emulator: IotHubEmulator;
let clients: DeviceClients;
let service: ServiceClientHandle;

beforeAll(async () => {
  emulator = await IotHubEmulator.start();
  service = serviceClientFor(emulator);
});

afterAll(async () => {
  await service.close();
  await emulator.stop();
});

beforeEach(() => {
  clients = new DeviceClients(emulator);
});

afterEach(async () => {
  await clients.closeAll();
});

function answerWith(status: number, payload: (request: DeviceMethodRequest) => unknown) {
  return (request?: DeviceMethodRequest, response?: DeviceMethodResponse): void => {
    if (request && response) response.send(status, payload(request), () => undefined);
  };
}

describe('direct methods', () => {
  it('invokes a device method with a payload and returns the device status and payload', async () => {
    emulator.registry.createDevice({ deviceId: 'meth-d1' });
    const client = clients.device('meth-d1');
    await client.open();
    const seen: DeviceMethodRequest[] = [];
    client.onDeviceMethod('reboot', (request, response) => {
      if (request) seen.push(request);
      answerWith(201, (r) => ({ echoed: r.payload as unknown, at: 'now' }))(request, response);
    });
    await eventually(() => emulator.mqtt.isSubscribed('meth-d1', undefined, 'methods'), 5000, 'methods subscription');

    const { result } = (await service.client.invokeDeviceMethod('meth-d1', { methodName: 'reboot', payload: { delay: 5 } })) as {
      result: unknown;
    };
    expect(result).toEqual({ status: 201, payload: { echoed: { delay: 5 }, at: 'now' } });
    expect(seen[0]?.methodName).toBe('reboot');
    expect(seen[0]?.requestId).toEqual(expect.any(String));
  });

  it('invokes a module method on the module connection only', async () => {
    emulator.registry.createDevice({ deviceId: 'meth-d2' });
    emulator.registry.createModule({ deviceId: 'meth-d2', moduleId: 'agent' });
    const device = clients.device('meth-d2');
    const agent = clients.module('meth-d2', 'agent');
    await Promise.all([device.open(), agent.open()]);
    device.onDeviceMethod(
      'whoami',
      answerWith(200, () => 'device'),
    );
    agent.onMethod(
      'whoami',
      answerWith(200, () => 'module'),
    );
    await eventually(() => emulator.mqtt.isSubscribed('meth-d2', 'agent', 'methods'), 5000, 'module methods subscription');
    await eventually(() => emulator.mqtt.isSubscribed('meth-d2', undefined, 'methods'), 5000, 'device methods subscription');

    const moduleCall = await service.client.invokeDeviceMethod('meth-d2', 'agent', { methodName: 'whoami' });
    expect(moduleCall.result).toEqual({ status: 200, payload: 'module' });
    const deviceCall = await service.client.invokeDeviceMethod('meth-d2', { methodName: 'whoami' });
    expect(deviceCall.result).toEqual({ status: 200, payload: 'device' });
  });

  it('answers 404 DeviceNotOnline when the device is not connected, 404 DeviceNotFound when it is not registered', async () => {
    emulator.registry.createDevice({ deviceId: 'meth-d3' });
    const offline = await caught(() => service.client.invokeDeviceMethod('meth-d3', { methodName: 'any' }));
    // azure-iothub maps a 404 other than DeviceNotFound/IotHubNotFound to a plain Error (rest_api_client.js translateError).
    expect(offline.response?.statusCode).toBe(404);
    expect(offline.responseBody).toContain('ErrorCode:DeviceNotOnline');
    const unknown = await caught(() => service.client.invokeDeviceMethod('meth-nobody', { methodName: 'any' }));
    expect(unknown.name).toBe('DeviceNotFoundError');
  });

  it('answers 504 GatewayTimeout when the device does not answer in time', async () => {
    emulator.registry.createDevice({ deviceId: 'meth-d4' });
    const client = clients.device('meth-d4');
    await client.open();
    client.onDeviceMethod('hang', () => undefined);
    await eventually(() => emulator.mqtt.isSubscribed('meth-d4', undefined, 'methods'), 5000, 'methods subscription');
    const started = Date.now();
    const error = await caught(() => service.client.invokeDeviceMethod('meth-d4', { methodName: 'hang', responseTimeoutInSeconds: 5 }));
    expect(error.response?.statusCode).toBe(504);
    expect(error.name).toBe('GatewayTimeoutError');
    expect(Date.now() - started).toBeGreaterThanOrEqual(4900);
  }, 15000);

  it('rejects a response timeout outside 5–300 s with 400', async () => {
    emulator.registry.createDevice({ deviceId: 'meth-d5' });
    const error = await caught(() => service.client.invokeDeviceMethod('meth-d5', { methodName: 'x', responseTimeoutInSeconds: 1 }));
    expect(error.response?.statusCode).toBe(400);
  });
});

describe('cloud-to-device messages', () => {
  it('delivers queued and live messages with their properties to the subscribed device, once each', async () => {
    emulator.registry.createDevice({ deviceId: 'c2d-d1' });
    const queuedId = emulator.mqtt.sendCloudToDevice('c2d-d1', 'queued while offline', { properties: { kind: 'queued' } });
    const client = clients.device('c2d-d1');
    const received: Message[] = [];
    client.on('message', (message: Message) => {
      received.push(message);
      client.complete(message, () => undefined);
    });
    await client.open();
    await eventually(() => received.length >= 1, 5000, 'the queued message');
    emulator.mqtt.sendCloudToDevice('c2d-d1', Buffer.from([1, 2, 3]), {
      messageId: 'live-1',
      correlationId: 'corr-9',
      contentType: 'application/octet-stream',
      properties: { kind: 'live', note: 'a b&c' },
    });
    await eventually(() => received.length >= 2, 5000, 'the live message');

    expect(received[0]?.messageId).toBe(queuedId);
    expect(String(received[0]?.data as Buffer)).toBe('queued while offline');
    expect(received[0]?.properties.getValue('kind')).toBe('queued');
    expect(received[1]?.messageId).toBe('live-1');
    expect(received[1]?.correlationId).toBe('corr-9');
    expect(received[1]?.contentType).toBe('application/octet-stream');
    expect(Buffer.from(received[1]?.data as Buffer)).toEqual(Buffer.from([1, 2, 3]));
    expect(received[1]?.properties.getValue('note')).toBe('a b&c');
    await eventually(() => emulator.mqtt.cloudToDeviceDepth('c2d-d1') === 0, 5000, 'acknowledged messages leave the queue');
  });

  it('refuses the 51st waiting message with 403 DeviceMaximumQueueDepthExceeded', () => {
    emulator.registry.createDevice({ deviceId: 'c2d-d2' });
    for (let i = 0; i < 50; i++) emulator.mqtt.sendCloudToDevice('c2d-d2', `m${i}`);
    expect(() => emulator.mqtt.sendCloudToDevice('c2d-d2', 'one too many')).toThrow(/50/);
  });
});
