/**
 * What the emulator does not serve fails at once through the preload, with a message naming it, instead of a DNS
 * retry loop: the hub host's AMQP (azure-iothub `Client`), other hubs and Event Hubs namespaces, a missing or invalid
 * IOTHUB_EMULATOR_CONNECT. And the routed connections still verify the certificate: a wrong CA is refused.
 * Every script is an unchanged SDK script in its own Node process (test/fixtures/connect/).
 */
import { formatConnectSetting, parseConnectSetting } from '../../emulator/connect/connect-setting';
import { IotHubEmulator } from '../../emulator/index';
import { generateEmulatorCertificate } from '../../emulator/tls/emulator-certificate';
import { runPreloaded } from '../fixtures/connect/run-preloaded';

/** Node start-up and SDK loading take about a second on this machine; a retry loop would take minutes. */
const AT_ONCE_MS = 6_000;

let hub: IotHubEmulator;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  hub = await IotHubEmulator.start({ tls: true });
  hub.registry.createDevice({ deviceId: 'ff-d1' });
  env = {
    IOTHUB_EMULATOR_CONNECT: hub.connectSetting,
    IOTHUB_CONNECTION_STRING: hub.serviceConnectionString,
    EVENTHUB_CONNECTION_STRING: hub.portalEventHubConnectionString,
  };
});

afterAll(async () => {
  await hub.stop();
});

test('azure-iothub Client (cloud-to-device over AMQP 5671 on the hub host) fails at once as not emulated', async () => {
  const run = await runPreloaded('service-client-send.js', ['ff-d1'], env);
  // azure-iothub reports the AMQP close as NotImplementedError with a fixed message; the preload says why on stderr.
  expect(run).toMatchObject({ exitCode: 1, result: { name: 'NotImplementedError', error: 'AMQP Transport: Could not connect' } });
  expect(run.stderr).toContain(
    'emulator/connect.js: IoT Hub emulator: AMQP to the IoT Hub host twinguard-emulator.azure-devices.net:5671 is not emulated: neither the service side (azure-iothub Client: cloud-to-device send',
  );
  expect(run.elapsedMs).toBeLessThan(AT_ONCE_MS);
});

test('a device of another hub fails at once naming the emulated hub', async () => {
  const run = await runPreloaded('device-report.js', ['Mqtt'], {
    ...env,
    DEVICE_CONNECTION_STRING: hub.deviceConnectionString('ff-d1').replace(hub.hostName, 'fabrikam.azure-devices.net'),
  });
  expect(run.exitCode).toBe(1);
  expect(run.result['error']).toContain(
    'IoT Hub emulator: fabrikam.azure-devices.net is not the emulated hub: the IoT Hub emulator serves twinguard-emulator.azure-devices.net only',
  );
  expect(run.elapsedMs).toBeLessThan(AT_ONCE_MS);
});

test('a Registry of another hub fails at once naming the emulated hub', async () => {
  const run = await runPreloaded('registry-create-get.js', ['ff-d2'], {
    ...env,
    IOTHUB_CONNECTION_STRING: hub.serviceConnectionString.replace(hub.hostName, 'fabrikam.azure-devices.net'),
  });
  expect(run.result).toEqual({
    name: 'NotEmulatedError',
    error:
      'IoT Hub emulator: fabrikam.azure-devices.net is not the emulated hub: the IoT Hub emulator serves twinguard-emulator.azure-devices.net only (check HostName in the connection string).',
  });
  expect(run.elapsedMs).toBeLessThan(AT_ONCE_MS);
});

test("an Event Hubs consumer of another namespace fails at once naming the emulator's endpoint", async () => {
  const run = await runPreloaded('read-twin-change.js', ['ff-d1'], {
    ...env,
    EVENTHUB_CONNECTION_STRING: hub.portalEventHubConnectionString.replace(hub.eventHubHostName, 'contoso-ns.servicebus.windows.net'),
  });
  expect(run.exitCode).toBe(1);
  expect(run.result['error']).toContain(
    `IoT Hub emulator: contoso-ns.servicebus.windows.net is not the emulator's Event Hub-compatible endpoint: the IoT Hub emulator serves ${hub.eventHubHostName} only`,
  );
  expect(run.elapsedMs).toBeLessThan(AT_ONCE_MS);
});

test('plain TCP to the hub host (no TLS) fails at once: IoT Hub speaks TLS only', async () => {
  const run = await runPreloaded('plain-tcp.js', [hub.hostName, '1883'], env);
  expect(run.result).toEqual({
    name: 'NotEmulatedError',
    error:
      'IoT Hub emulator: plain TCP to twinguard-emulator.azure-devices.net:1883 is not emulated (IoT Hub serves TLS only: HTTPS 443, MQTT 8883, AMQP 5671).',
  });
  expect(run.elapsedMs).toBeLessThan(AT_ONCE_MS);
});

test('without IOTHUB_EMULATOR_CONNECT the preload stops the script and says where the value comes from', async () => {
  const run = await runPreloaded('registry-create-get.js', ['ff-d3'], { ...env, IOTHUB_EMULATOR_CONNECT: undefined });
  expect(run.exitCode).toBe(2);
  expect(run.stderr).toBe(
    'emulator/connect.js: IOTHUB_EMULATOR_CONNECT is not set. Start the emulator (npm run emulator) and copy the IOTHUB_EMULATOR_CONNECT=… line it prints.\n',
  );
  expect(() => hub.registry.getDevice('ff-d3')).toThrow('not registered');
});

test('an invalid IOTHUB_EMULATOR_CONNECT lists its problems', async () => {
  const run = await runPreloaded('registry-create-get.js', ['ff-d4'], {
    ...env,
    IOTHUB_EMULATOR_CONNECT: 'IotHub=x.azure-devices.net;Https=99999',
  });
  expect(run.exitCode).toBe(2);
  expect(run.stderr).toContain("Https '99999' is not a port (1–65535); lacks Mqtts=");
});

test('the routed connections still verify the certificate: a CA that did not sign it is refused', async () => {
  const setting = parseConnectSetting(hub.connectSetting);
  const { cert: strangerCa } = await generateEmulatorCertificate([setting.iotHubHostName, setting.eventHubHostName]);
  const run = await runPreloaded('registry-create-get.js', ['ff-d5'], {
    ...env,
    IOTHUB_EMULATOR_CONNECT: formatConnectSetting({ ...setting, ca: strangerCa }),
  });
  expect(run.exitCode).toBe(1);
  expect(run.result['error']).toMatch(/self[- ]signed certificate|unable to verify/i);
  expect(() => hub.registry.getDevice('ff-d5')).toThrow('not registered');
});
