/**
 * Unchanged SDK scripts (test/fixtures/connect/*.js, connection strings with `{hub}.azure-devices.net` and the portal's
 * `….servicebus.windows.net` endpoint) reach the emulator through the preload: azure-iothub Registry and JobClient
 * over HTTPS, azure-iot-device over MQTT with TLS and over WebSocket (`MqttWs`), @azure/event-hubs over AMQP with TLS. Each runs in its own Node
 * process, as `node -r dist/emulator/connect.js script.js` (or NODE_OPTIONS), against an emulator started with `tls`.
 */
import { Client } from 'azure-iot-device';
import WebSocket from 'ws';
import { IotHubEmulator } from '../../emulator/index';
import { localMqttTransport } from '../../emulator/mqtt/local-device-transport';
import { eventually } from '../../testing/eventually';
import { runPreloaded } from '../fixtures/connect/run-preloaded';

let hub: IotHubEmulator;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  hub = await IotHubEmulator.start({ tls: true });
  env = {
    IOTHUB_EMULATOR_CONNECT: hub.connectSetting,
    IOTHUB_CONNECTION_STRING: hub.serviceConnectionString,
    EVENTHUB_CONNECTION_STRING: hub.portalEventHubConnectionString,
  };
});

afterAll(async () => {
  await hub.stop();
});

test('the emulator names its TLS endpoints as the cloud does', () => {
  expect(hub.serviceConnectionString).toMatch(
    /^HostName=twinguard-emulator\.azure-devices\.net;SharedAccessKeyName=iothubowner;SharedAccessKey=/,
  );
  expect(hub.portalEventHubConnectionString).toMatch(
    /^Endpoint=sb:\/\/iothub-ns-[a-z0-9-]+\.servicebus\.windows\.net\/;SharedAccessKeyName=iothubowner;SharedAccessKey=[^;]+;EntityPath=iothub-ehub-/,
  );
  expect(hub.portalEventHubConnectionString).not.toContain('UseDevelopmentEmulator');
});

test('a Registry and JobClient script creates, reads and schedules over HTTPS 443', async () => {
  const run = await runPreloaded('registry-create-get.js', ['script-d1'], env);
  expect(run).toMatchObject({ exitCode: 0, result: { deviceId: 'script-d1', status: 'enabled', hasKey: true, jobId: 'tag-script-d1' } });
  expect(hub.registry.getDevice('script-d1').deviceId).toBe('script-d1');
  expect(run.stderr).toBe('');
});

test('the same script runs with the preload given in NODE_OPTIONS', async () => {
  const run = await runPreloaded('registry-create-get.js', ['script-d2'], env, 'NODE_OPTIONS');
  expect(run).toMatchObject({ exitCode: 0, result: { deviceId: 'script-d2' } });
});

test('a device script reports over MQTT 8883 and a reader script sees the notification over AMQP 5671', async () => {
  hub.registry.createDevice({ deviceId: 'script-d3' });
  const device = await runPreloaded('device-report.js', ['Mqtt', '{"firmware":"2.1.0"}'], {
    ...env,
    DEVICE_CONNECTION_STRING: hub.deviceConnectionString('script-d3'),
  });
  expect(device).toMatchObject({ exitCode: 0, result: { reported: { firmware: '2.1.0' }, desiredVersion: 1 } });
  expect(hub.registry.getTwin('script-d3')).toMatchObject({ properties: { reported: { firmware: '2.1.0' } } });

  const reader = await runPreloaded('read-twin-change.js', ['script-d3'], env);
  expect(reader).toMatchObject({
    exitCode: 0,
    result: {
      source: 'twinChangeEvents',
      hubName: 'twinguard-emulator',
      body: { properties: { reported: { firmware: '2.1.0', $version: 2 } } },
    },
  });
});

test('a module script (ModuleClient, as the security agent connects) reports its module twin over MQTT 8883', async () => {
  hub.registry.createDevice({ deviceId: 'script-a1' });
  hub.registry.createModule({ deviceId: 'script-a1', moduleId: 'DefenderIotMicroAgent' });
  const agent = await runPreloaded('device-report.js', ['Mqtt', '{"latest_state":"Succeeded"}'], {
    ...env,
    DEVICE_CONNECTION_STRING: hub.deviceConnectionString('script-a1', 'DefenderIotMicroAgent'),
  });
  expect(agent).toMatchObject({ exitCode: 0, result: { reported: { latest_state: 'Succeeded' } } });
  expect(hub.registry.getTwin('script-a1', 'DefenderIotMicroAgent')).toMatchObject({
    properties: { reported: { latest_state: 'Succeeded' } },
  });
});

test('a device script with MqttWs reports over MQTT over WebSocket on 443', async () => {
  hub.registry.createDevice({ deviceId: 'script-ws1' });
  const device = await runPreloaded('device-report.js', ['MqttWs', '{"transport":"websocket"}'], {
    ...env,
    DEVICE_CONNECTION_STRING: hub.deviceConnectionString('script-ws1'),
  });
  expect(device).toMatchObject({ exitCode: 0, result: { reported: { transport: 'websocket' } } });
  expect(hub.registry.getTwin('script-ws1')).toMatchObject({ properties: { reported: { transport: 'websocket' } } });
  expect(hub.registry.getDevice('script-ws1').connectionState).toBe('Disconnected');
});

test('the HTTPS listener refuses other WebSocket upgrades with a 501 naming what it serves', async () => {
  const port = /Https=(\d+)/.exec(hub.connectSetting ?? '')?.[1];
  // ws hands its options to tls.connect, so servername gives SNI and the certificate check the hub's name.
  const tlsOptions = { ca: hub.tlsCertificate, servername: hub.hostName };
  const socket = new WebSocket(`wss://127.0.0.1:${port}/$servicebus/websocket`, ['AMQPWSB10'], tlsOptions);
  const refusal = await new Promise<string>((resolve) => {
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.on('end', () => resolve(`${response.statusCode} ${body}`));
    });
    socket.on('open', () => resolve('opened'));
    socket.on('error', (error) => resolve(`error ${error.message}`));
  });
  expect(refusal).toBe(
    '501 WebSocket /$servicebus/websocket (AMQPWSB10) is not supported by the IoT Hub emulator; it serves MQTT over WebSocket on /$iothub/websocket only',
  );
});

test('a service script invokes a direct method over HTTPS on a device connected to the emulator', async () => {
  hub.registry.createDevice({ deviceId: 'script-m1' });
  const device = Client.fromConnectionString(hub.deviceConnectionString('script-m1'), localMqttTransport(hub.mqttPort));
  try {
    await device.open();
    device.onDeviceMethod('reboot', (request, response) => {
      response.send(200, { rebooting: true, asked: request.payload as unknown }, () => undefined);
    });
    await eventually(() => hub.mqtt.isSubscribed('script-m1', undefined, 'methods'), 5000, 'methods subscription');
    const run = await runPreloaded('invoke-method.js', ['script-m1', 'reboot'], env);
    expect(run).toMatchObject({ exitCode: 0, result: { status: 200, payload: { rebooting: true, asked: { delay: 1 } } } });
  } finally {
    await device.close();
  }
});
