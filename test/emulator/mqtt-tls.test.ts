/**
 * The endpoint's TLS listener (`mqttTls`), which `mqtts://` clients need: the real azure-iot-device client connects
 * over TLS with a certificate made for the test, trusting it as its CA, and is served by the same sessions.
 * The certificate comes from the openssl CLI (Node cannot issue X.509 certificates itself).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client } from 'azure-iot-device';
import { IotHubEmulator } from '../../emulator/index';
import { localMqttTransport } from '../../emulator/mqtt/local-device-transport';

let emulator: IotHubEmulator;
let cert: Buffer;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'twinguard-mqtt-tls-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  cert = readFileSync(certFile);
  emulator = await IotHubEmulator.start({ mqttTls: { key: readFileSync(keyFile), cert } });
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
