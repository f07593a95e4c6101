/**
 * An azure-iot-device transport that talks MQTT to the emulator's port instead of `mqtts://{HostName}:8883`, for code
 * that holds an emulator object (tests, the simulated agents) and so needs no preload:
 *
 *   const client = Client.fromConnectionString(emulator.deviceConnectionString('d1'), localMqttTransport(emulator.mqttPort));
 *
 * azure-iot-device-mqtt 1.16.4 always builds the URI `mqtts://{GatewayHostName || HostName}` (dist/mqtt.js
 * `_getBaseTransportConfig`) and has no port or scheme option. Its documented seam is the second constructor argument
 * of `Mqtt`, an `MqttBase` (SRS_NODE_DEVICE_MQTT_18_025), whose own constructor takes the MQTT.js provider
 * (azure-iot-mqtt-base dist/mqtt_base.js, SRS_NODE_COMMON_MQTT_BASE_16_005). The provider here keeps every option the
 * SDK computes (client id, username, SAS password, keep-alive, clean flag) and only changes where the socket goes.
 * The MQTT.js instance is the one azure-iot-mqtt-base itself loads, so the wire behaviour is the SDK's own.
 */
import { createRequire } from 'node:module';
import { Mqtt } from 'azure-iot-device-mqtt';
import { MqttBase } from 'azure-iot-mqtt-base';

type AuthenticationProvider = ConstructorParameters<typeof Mqtt>[0];

interface MqttJs {
  connect(url: string, options: Record<string, unknown>): unknown;
}

export interface LocalTransportOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Connect over TLS (the endpoint's `tls` port) trusting this CA; default plain TCP. */
  tls?: { ca: string | Buffer };
}

/** The constructor the device SDK's `fromConnectionString(…, Transport)` expects. */
export type DeviceTransportConstructor = new (authenticationProvider: AuthenticationProvider) => Mqtt;

let mqttJs: MqttJs | undefined;

function loadMqttJs(): MqttJs {
  mqttJs ??= createRequire(require.resolve('azure-iot-mqtt-base'))('mqtt') as MqttJs;
  return mqttJs;
}

/** A transport class bound to the emulator's MQTT port. */
export function localMqttTransport(port: number, options: LocalTransportOptions = {}): DeviceTransportConstructor {
  const host = options.host ?? '127.0.0.1';
  const url = options.tls ? `mqtts://${host}:${port}` : `mqtt://${host}:${port}`;
  const provider: MqttJs = {
    connect: (_sdkUrl, sdkOptions) => loadMqttJs().connect(url, options.tls ? { ...sdkOptions, ca: options.tls.ca } : sdkOptions),
  };
  return class LocalMqtt extends Mqtt {
    constructor(authenticationProvider: AuthenticationProvider) {
      super(authenticationProvider, new MqttBase(provider));
    }
  };
}
