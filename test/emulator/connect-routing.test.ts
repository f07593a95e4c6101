/**
 * The preload's two pure parts: reading IOTHUB_EMULATOR_CONNECT (emulator/connect/connect-setting.ts) and deciding
 * where each outgoing connection goes (emulator/connect/route-decision.ts). The certificate is a real one from
 * emulator/tls/emulator-certificate.ts, so the host-name coverage check runs against what the emulator serves.
 */
import { X509Certificate } from 'node:crypto';
import {
  ConnectSettingError,
  formatConnectSetting,
  parseConnectSetting,
  type ConnectSetting,
} from '../../emulator/connect/connect-setting';
import { decidePlainConnection, decideTlsConnection } from '../../emulator/connect/route-decision';
import { generateEmulatorCertificate } from '../../emulator/tls/emulator-certificate';

const HUB = 'contoso-hub.azure-devices.net';
const EVENTS = 'iothub-ns-contoso-hu-1234567.servicebus.windows.net';
let setting: ConnectSetting;

beforeAll(async () => {
  const { cert } = await generateEmulatorCertificate([HUB, EVENTS, 'localhost', '127.0.0.1']);
  setting = {
    iotHubHostName: HUB,
    eventHubHostName: EVENTS,
    address: '127.0.0.1',
    httpsPort: 41001,
    mqttsPort: 41002,
    amqpsPort: 41003,
    hubAmqpsPort: 41004,
    ca: cert,
  };
});

function problemsOf(value: string | undefined): readonly string[] {
  try {
    parseConnectSetting(value);
  } catch (error) {
    if (error instanceof ConnectSettingError) return error.problems;
    throw error;
  }
  throw new Error('accepted');
}

describe('IOTHUB_EMULATOR_CONNECT', () => {
  test('round-trips through its one-line form', () => {
    const line = formatConnectSetting(setting);
    expect(line).toMatch(
      /^IotHub=contoso-hub\.azure-devices\.net;EventHub=iothub-ns-.*;Address=127\.0\.0\.1;Https=41001;Mqtts=41002;Amqps=41003;HubAmqps=41004;Ca=[A-Za-z0-9+/=]+$/,
    );
    const parsed = parseConnectSetting(line);
    expect({ ...parsed, ca: undefined }).toEqual({ ...setting, ca: undefined });
    expect(new X509Certificate(parsed.ca).fingerprint256).toBe(new X509Certificate(setting.ca).fingerprint256);
  });

  test('accepts host names in any case and surrounding blanks', () => {
    const line = formatConnectSetting(setting).replace(HUB, HUB.toUpperCase());
    expect(parseConnectSetting(` ${line}; `).iotHubHostName).toBe(HUB);
  });

  test('a missing value says where to get one', () => {
    expect(() => parseConnectSetting(undefined)).toThrow(
      'IOTHUB_EMULATOR_CONNECT is not set. Start the emulator (npm run emulator) and copy the IOTHUB_EMULATOR_CONNECT=… line it prints.',
    );
    expect(problemsOf('  ')).toEqual(['is not set']);
  });

  test('every problem is listed at once', () => {
    const line = formatConnectSetting(setting)
      .replace('Https=41001', 'Https=0')
      .replace('Mqtts=41002', 'Mqtts=x')
      .replace(';Amqps=41003', '')
      .replace('Address=127.0.0.1', 'Address=not_a host')
      .concat(';Proxy=1;IotHub=again.azure-devices.net');
    expect(problemsOf(line)).toEqual([
      "has an unknown part 'Proxy' (expected IotHub, EventHub, Address, Https, Mqtts, Amqps, HubAmqps, Ca)",
      'names IotHub twice',
      "Address 'not_a host' is neither an IP address nor a host name",
      "Https '0' is not a port (1–65535)",
      "Mqtts 'x' is not a port (1–65535)",
      'lacks Amqps=',
      'Ca does not cover again.azure-devices.net',
    ]);
  });

  test('a certificate that is not one, or not for the hub, is refused', () => {
    const line = formatConnectSetting(setting);
    expect(problemsOf(line.replace(/Ca=.*$/, 'Ca=bm90IGEgY2VydA=='))).toEqual(['Ca is not an X.509 certificate']);
    expect(problemsOf(line.replace(/Ca=.*$/, 'Ca=%%%'))).toEqual(['Ca is not base64']);
    expect(problemsOf(line.replace(`IotHub=${HUB}`, 'IotHub=fabrikam.azure-devices.net'))).toEqual([
      'Ca does not cover fabrikam.azure-devices.net',
    ]);
  });
});

describe('where a TLS connection goes', () => {
  const route = (port: number) => ({ kind: 'route', address: '127.0.0.1', port });

  test.each([
    ['the registry (HTTPS)', HUB, 443, 41001, HUB],
    ['MQTT over TLS', HUB, 8883, 41002, HUB],
    ['the Event Hub-compatible endpoint', EVENTS, 5671, 41003, EVENTS],
    ['a host name with a trailing dot and capitals', `${HUB.toUpperCase()}.`, 443, 41001, HUB],
  ])('%s goes to its listener with the real host name for SNI and the certificate check', (_what, host, port, emulatorPort, servername) => {
    expect(decideTlsConnection(setting, { host, port })).toEqual({ ...route(emulatorPort), servername });
  });

  test('AMQP to the hub host goes to the refusing listener, with the reason to print', () => {
    const decision = decideTlsConnection(setting, { host: HUB, port: 5671 });
    expect(decision).toMatchObject(route(41004));
    expect(decision.kind === 'route' && decision.notice).toMatch(
      /AMQP to the IoT Hub host contoso-hub\.azure-devices\.net:5671 is not emulated/,
    );
  });

  test('MQTT over WebSocket (MqttWs) goes to the HTTPS listener, which upgrades it', () => {
    expect(decideTlsConnection(setting, { host: HUB, port: 443, webSocketProtocol: 'mqtt' })).toEqual({ ...route(41001), servername: HUB });
  });

  test.each([
    [
      HUB,
      443,
      'AMQPWSB10',
      /AMQP over WebSocket .* to contoso-hub\.azure-devices\.net:443 is not emulated; use MQTT \(azure-iot-device-mqtt Mqtt on 8883, or MqttWs on 443\)/,
    ],
    [HUB, 8883, 'mqtt', /MQTT over WebSocket \(azure-iot-device-mqtt MqttWs\) to contoso-hub\.azure-devices\.net:8883 is not emulated/],
    [EVENTS, 443, 'AMQPWSB10', /AMQP over WebSocket .*servicebus\.windows\.net:443 is not emulated; use AMQP over TLS/],
  ])('a WebSocket to %s:%d (%s) is refused', (host, port, webSocketProtocol, message) => {
    const decision = decideTlsConnection(setting, { host, port, webSocketProtocol });
    expect(decision.kind).toBe('refuse');
    expect(decision.kind === 'refuse' && decision.message).toMatch(message);
  });

  test.each([
    [HUB, 8080, /port 8080 of contoso-hub\.azure-devices\.net is not emulated/],
    [EVENTS, 443, /port 443 of iothub-ns-.* is not emulated \(the Event Hub-compatible endpoint serves AMQP over TLS on 5671\)/],
    [
      'fabrikam.azure-devices.net',
      8883,
      /fabrikam\.azure-devices\.net is not the emulated hub: the IoT Hub emulator serves contoso-hub\.azure-devices\.net only/,
    ],
    [
      'global.azure-devices-provisioning.net',
      443,
      /the Device Provisioning Service \(global\.azure-devices-provisioning\.net\) is not emulated/,
    ],
    ['other-ns.servicebus.windows.net', 5671, /other-ns\.servicebus\.windows\.net is not the emulator's Event Hub-compatible endpoint/],
  ])('%s:%d is refused', (host, port, message) => {
    const decision = decideTlsConnection(setting, { host, port });
    expect(decision.kind).toBe('refuse');
    expect(decision.kind === 'refuse' && decision.message).toMatch(message);
  });

  test.each([
    ['127.0.0.1', 10002],
    ['devstoreaccount1.blob.core.windows.net', 443],
    ['login.microsoftonline.com', 443],
    ['contoso-hub.azure-devices.net.evil.example', 443],
  ])('%s:%d passes untouched', (host, port) => {
    expect(decideTlsConnection(setting, { host, port })).toEqual({ kind: 'pass' });
  });
});

describe('where a plain TCP connection goes', () => {
  test('plain TCP to the emulated hosts is refused: IoT Hub speaks TLS only', () => {
    const decision = decidePlainConnection(setting, { host: HUB, port: 1883 });
    expect(decision.kind === 'refuse' && decision.message).toBe(
      'IoT Hub emulator: plain TCP to contoso-hub.azure-devices.net:1883 is not emulated (IoT Hub serves TLS only: HTTPS 443, MQTT 8883, AMQP 5671).',
    );
  });

  test('another hub is refused, anything else passes', () => {
    expect(decidePlainConnection(setting, { host: 'fabrikam.azure-devices.net', port: 80 }).kind).toBe('refuse');
    expect(decidePlainConnection(setting, { host: '127.0.0.1', port: 5672 })).toEqual({ kind: 'pass' });
  });
});
