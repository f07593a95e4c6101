/**
 * The endpoint's TLS listener (`mqttTls`), which `mqtts://` clients need: the real azure-iot-device client connects
 * over TLS with a certificate made for the test, trusting it as its CA, and is served by the same sessions.
 * The certificate comes from emulator/tls/emulator-certificate.ts (the openssl CLI: Node cannot issue X.509 itself).
 */
import { Client } from 'azure-iot-device';
import { IotHubEmulator } from '../../emulator/index';
import { localMqttTransport } from '../../emulator/mqtt/local-device-transport';
import { generateEmulatorCertificate } from '../../emulator/tls/emulator-certificate';

let emulator: IotHubEmulator;
let cert: string;

beforeAll(async () => {
  // The emulator's own certificate maker (openssl), for the loopback address the client dials.
  const certificate = await generateEmulatorCertificate(['127.0.0.1']);
  cert = certificate.cert;
  emulator = await IotHubEmulator.start({ mqttTls: certificate });
});

afterAll(async () => {
  await emulator.stop();
});

it('serves an azure-iot-device client over MQTT with TLS', async () => {
  emulator.registry.createDevice({ deviceId: 'tls-d1' });
  expect(emulator.mqtt.tlsPort).toBeGreaterThan(0);
  const client = Client.fromConnectionString(
    emulator.deviceConnectionString('tls-d1'),
    localMqttTransport(emulator.mqtt.tlsPort, { tls: { ca: cert } }),
  );
  try {
    await client.open();
    expect(emulator.registry.getDevice('tls-d1').connectionState).toBe('Connected');
    const twin = await client.getTwin();
    expect(twin.properties.reported).toMatchObject({ $version: 1 });
  } finally {
    await client.close();
  }
});
