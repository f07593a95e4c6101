/**
 * A device-to-cloud message's property bag, as IoT Hub turns it into the routed message's properties
 * (iot-mqtt-connect-to-iot-hub.md, "Sending device-to-cloud messages": `$.`-prefixed keys are system properties
 * translated to their AMQP fields, other keys are application properties). The keys azure-iot-device-mqtt 1.16.4
 * writes (dist/mqtt.js `_getEventTopicFromMessage`): `$.mid` message id, `$.cid` correlation id, `$.uid` user id,
 * `$.to`, `$.ct` content type, `$.ce` content encoding, `$.exp` expiry, `$.ifid` interface id, `$.on` output name,
 * `$.sub` (dt-subject).
 */
import type { ApplicationPropertyValue, TelemetryOptions } from '../notifications';
import type { PropertyBag } from './iothub-topics';

/**
 * Splits the bag into the telemetry options of the built-in endpoint. System keys the emulator does not route on
 * (`$.to`, `$.exp`, `$.ifid`, `$.on`) are dropped; `$.sub` becomes the `dt-subject` application property. A key
 * without a value is an empty string (AMQP application properties have no null here).
 */
export function telemetryOptionsOf(properties: PropertyBag, moduleId: string | undefined, generationId: string): TelemetryOptions {
  const applicationProperties: Record<string, ApplicationPropertyValue> = {};
  const options: TelemetryOptions = { generationId, properties: applicationProperties };
  if (moduleId !== undefined) options.moduleId = moduleId;
  for (const [key, raw] of properties) {
    const value = raw ?? '';
    switch (key) {
      case '$.mid':
        options.messageId = value;
        break;
      case '$.cid':
        options.correlationId = value;
        break;
      case '$.uid':
        options.userId = value;
        break;
      case '$.ct':
        options.contentType = value;
        break;
      case '$.ce':
        options.contentEncoding = value;
        break;
      case '$.sub':
        applicationProperties['dt-subject'] = value;
        break;
      default:
        if (!key.startsWith('$.')) applicationProperties[key] = value;
    }
  }
  return options;
}
