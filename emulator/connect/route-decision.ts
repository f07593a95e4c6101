/**
 * Where the preload (emulator/connect.ts) sends one outgoing connection: to one of the emulator's TLS listeners, to
 * nowhere with a message naming what is not emulated, or on unchanged (everything that is not an Azure IoT host).
 * Pure: the preload hands in the host, port and WebSocket subprotocol it saw.
 *
 * The SDKs' fixed ports: azure-iothub's Registry and JobClient speak HTTPS on 443 (dist/common-http/http.js,
 * `https.request` with the HostName); azure-iot-device-mqtt's `Mqtt` builds `mqtts://{HostName}` (dist/mqtt.js), which
 * MQTT.js connects on 8883 (lib/connect/tls.js); AMQP clients (azure-iothub `Client`, azure-iot-device-amqp,
 * @azure/event-hubs through core-amqp and rhea) use AMQPS on 5671; the WebSocket variants (`MqttWs`, `AmqpWs`,
 * Event Hubs `webSocketOptions`) use 443 with the subprotocol `mqtt` or `AMQPWSB10`
 * (https://learn.microsoft.com/azure/iot-hub/iot-hub-devguide-protocols, "Port numbers").
 */
import type { ConnectSetting } from './connect-setting';
import { hubAmqpNotEmulatedDescription } from './hub-amqp-not-emulated';

export const HTTPS_PORT = 443;
export const MQTTS_PORT = 8883;
export const AMQPS_PORT = 5671;

export interface OutgoingConnection {
  /** Host name as the client asked for it. */
  readonly host: string;
  readonly port: number;
  /** `Sec-WebSocket-Protocol` of a WebSocket upgrade riding on this connection, if any. */
  readonly webSocketProtocol?: string;
}

export type RouteDecision =
  | { readonly kind: 'pass' }
  | {
      readonly kind: 'route';
      readonly address: string;
      readonly port: number;
      readonly servername: string;
      /** Said once on stderr: the SDK will report this connection's refusal without the reason. */
      readonly notice?: string;
    }
  | { readonly kind: 'refuse'; readonly message: string };

const PASS: RouteDecision = { kind: 'pass' };

/** Normalized for comparison: DNS names are case-insensitive and may carry the root's trailing dot. */
function normalized(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

function webSocketKind(protocol: string): string {
  return /mqtt/i.test(protocol)
    ? 'MQTT over WebSocket (azure-iot-device-mqtt MqttWs)'
    : /amqp/i.test(protocol)
      ? 'AMQP over WebSocket (azure-iot-device-amqp AmqpWs, azure-iothub AmqpWs, @azure/event-hubs webSocketOptions)'
      : `WebSocket (${protocol})`;
}

/** A TLS connection: routed to the emulator, refused, or passed on. */
export function decideTlsConnection(setting: ConnectSetting, connection: OutgoingConnection): RouteDecision {
  const host = normalized(connection.host);
  const { port, webSocketProtocol } = connection;
  const to = (emulatorPort: number, notice?: string): RouteDecision => ({
    kind: 'route',
    address: setting.address,
    port: emulatorPort,
    servername: host,
    ...(notice === undefined ? {} : { notice }),
  });
  if (host === setting.iotHubHostName) {
    // MQTT over WebSocket is served on the registry's HTTPS listener (emulator/tls/mqtt-websocket-upgrade.ts).
    if (webSocketProtocol !== undefined && port === HTTPS_PORT && /^mqtt$/i.test(webSocketProtocol.trim())) return to(setting.httpsPort);
    if (webSocketProtocol !== undefined)
      return refuse(
        `${webSocketKind(webSocketProtocol)} to ${host}:${port} is not emulated; use MQTT (azure-iot-device-mqtt Mqtt on 8883, or MqttWs on 443)`,
      );
    if (port === HTTPS_PORT) return to(setting.httpsPort);
    if (port === MQTTS_PORT) return to(setting.mqttsPort);
    // Served by a listener that refuses in AMQP terms (emulator/tls/not-emulated-amqp-listener.ts says why). The SDK
    // reports `NotImplementedError: AMQP Transport: Could not connect` and keeps the reason in `amqpError`.
    if (port === AMQPS_PORT) return to(setting.hubAmqpsPort, hubAmqpNotEmulatedDescription(host));
    return refuse(
      `port ${port} of ${host} is not emulated (the emulator serves HTTPS on 443, MQTT over TLS on 8883 and, to refuse it, AMQP on 5671 for this host)`,
    );
  }
  if (host === setting.eventHubHostName) {
    if (webSocketProtocol !== undefined)
      return refuse(`${webSocketKind(webSocketProtocol)} to ${host}:${port} is not emulated; use AMQP over TLS (port 5671)`);
    if (port === AMQPS_PORT) return to(setting.amqpsPort);
    return refuse(`port ${port} of ${host} is not emulated (the Event Hub-compatible endpoint serves AMQP over TLS on 5671)`);
  }
  return foreignAzureHost(setting, host) ?? PASS;
}

/**
 * A plain TCP connection: Azure IoT hosts only speak TLS ("IoT Hub doesn't support nonsecure connections over TCP port
 * 1883", https://learn.microsoft.com/azure/iot-hub/iot-hub-mqtt-support), so one to them is refused; the rest pass.
 */
export function decidePlainConnection(setting: ConnectSetting, connection: OutgoingConnection): RouteDecision {
  const host = normalized(connection.host);
  if (host === setting.iotHubHostName || host === setting.eventHubHostName)
    return refuse(`plain TCP to ${host}:${connection.port} is not emulated (IoT Hub serves TLS only: HTTPS 443, MQTT 8883, AMQP 5671)`);
  return foreignAzureHost(setting, host) ?? PASS;
}

/**
 * Other hubs, other Event Hubs namespaces and the Device Provisioning Service would otherwise fail with ENOTFOUND
 * (no network) or reach the real cloud; either way the script is not talking to this emulator, so say so.
 */
function foreignAzureHost(setting: ConnectSetting, host: string): RouteDecision | undefined {
  if (host.endsWith('.azure-devices.net'))
    return refuse(
      `${host} is not the emulated hub: the IoT Hub emulator serves ${setting.iotHubHostName} only (check HostName in the connection string)`,
    );
  if (host.endsWith('.azure-devices-provisioning.net'))
    return refuse(
      `the Device Provisioning Service (${host}) is not emulated; register devices through the registry of ${setting.iotHubHostName}`,
    );
  if (host.endsWith('.servicebus.windows.net'))
    return refuse(
      `${host} is not the emulator's Event Hub-compatible endpoint: the IoT Hub emulator serves ${setting.eventHubHostName} only (check Endpoint in the connection string)`,
    );
  return undefined;
}

function refuse(detail: string): RouteDecision {
  return { kind: 'refuse', message: `IoT Hub emulator: ${detail}.` };
}
