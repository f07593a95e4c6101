/**
 * IoT Hub's fixed MQTT topic names, parsed and formatted. IoT Hub is not a pub/sub broker: a device publishes only to
 * these names and subscribes only to these filters, and the hub answers each request on the publishing connection.
 *
 * Confirmed against "Communicate with an IoT hub using the MQTT protocol"
 * (MicrosoftDocs/azure-docs: articles/iot/iot-mqtt-connect-to-iot-hub.md) and azure-iot-device-mqtt 1.16.4
 * (dist/mqtt.js `_getEventTopicFromMessage`, `_configureEndpoints`, `_onC2DMessage`, `_parseMessage`;
 * dist/mqtt_twin_client.js `_sendTwinRequest`, `_onResponseMessage`):
 * - telemetry: `devices/{id}/messages/events/{property_bag}` (module: `devices/{id}/modules/{m}/messages/events/…`);
 * - twin: `$iothub/twin/GET/?$rid=…`, `$iothub/twin/PATCH/properties/reported/?$rid=…`, answered on
 *   `$iothub/twin/res/{status}/?$rid=…[&$version=…]`; desired pushes on `$iothub/twin/PATCH/properties/desired/?$version=…`;
 * - methods: requests on `$iothub/methods/POST/{name}/?$rid=…`, answers from the device on `$iothub/methods/res/{status}/?$rid=…`;
 * - cloud-to-device: `devices/{id}/messages/devicebound/{property_bag}`.
 * The property bag is query-string encoded (RFC 2396); system properties carry a `$.` prefix (`$.mid`, `$.cid`,
 * `$.ct`, `$.ce`, `$.uid`, `$.to`, `$.exp`).
 */

export type InboundTopic =
  | { kind: 'telemetry'; deviceId: string; moduleId?: string; properties: PropertyBag }
  | { kind: 'twinGet'; requestId: string }
  | { kind: 'twinPatchReported'; requestId: string }
  | { kind: 'methodResponse'; status: number; requestId: string }
  | { kind: 'unsupported'; topic: string };

/** Decoded key/value pairs in wire order; a key without `=` has the value null (IoT Hub's convention). */
export type PropertyBag = ReadonlyArray<readonly [string, string | null]>;

/** The filters IoT Hub lets a device subscribe to; anything else is refused in the SUBACK. */
export type SubscriptionKind = 'twinResponses' | 'desiredUpdates' | 'methods' | 'cloudToDevice' | 'moduleInputs';

const TWIN_REQUEST = /^\$iothub\/twin\/(GET|PATCH\/properties\/reported)\/\?(.*)$/;
const METHOD_RESPONSE = /^\$iothub\/methods\/res\/(\d+)\/\?(.*)$/;

/**
 * Classifies a topic a device published to. `deviceId`/`moduleId` in telemetry topics are returned as written;
 * the caller checks they name the connected identity.
 */
export function parseInboundTopic(topic: string): InboundTopic {
  if (topic.startsWith('$iothub/')) {
    const twin = TWIN_REQUEST.exec(topic);
    if (twin) {
      const requestId = readQuery(twin[2] ?? '').get('$rid');
      if (requestId === undefined || requestId === null || requestId === '') return { kind: 'unsupported', topic };
      return twin[1] === 'GET' ? { kind: 'twinGet', requestId } : { kind: 'twinPatchReported', requestId };
    }
    const method = METHOD_RESPONSE.exec(topic);
    if (method) {
      const requestId = readQuery(method[2] ?? '').get('$rid');
      if (requestId === undefined || requestId === null || requestId === '') return { kind: 'unsupported', topic };
      return { kind: 'methodResponse', status: Number(method[1]), requestId };
    }
    return { kind: 'unsupported', topic };
  }
  const parts = topic.split('/');
  if (parts[0] !== 'devices' || parts[1] === undefined || parts[1] === '') return { kind: 'unsupported', topic };
  const deviceId = parts[1];
  // devices/{id}/messages/events/{bag}  or  devices/{id}/modules/{m}/messages/events/{bag}
  if (parts[2] === 'messages' && parts[3] === 'events' && parts.length <= 5)
    return { kind: 'telemetry', deviceId, properties: parsePropertyBag(parts[4] ?? '') };
  if (parts[2] === 'modules' && parts[3] && parts[4] === 'messages' && parts[5] === 'events' && parts.length <= 7)
    return { kind: 'telemetry', deviceId, moduleId: parts[3], properties: parsePropertyBag(parts[6] ?? '') };
  return { kind: 'unsupported', topic };
}

/**
 * Which IoT Hub feature a SUBSCRIBE filter turns on, or undefined when the hub does not serve it.
 * The SDK's filters: `$iothub/twin/res/#`, `$iothub/twin/PATCH/properties/desired/#`, `$iothub/methods/POST/#`,
 * `devices/{id}/messages/devicebound/#`, `devices/{id}/modules/{m}/inputs/#`.
 */
export function subscriptionKindOf(filter: string, deviceId: string, moduleId: string | undefined): SubscriptionKind | undefined {
  if (filter === '$iothub/twin/res/#') return 'twinResponses';
  if (filter === '$iothub/twin/PATCH/properties/desired/#') return 'desiredUpdates';
  if (filter === '$iothub/methods/POST/#') return 'methods';
  if (moduleId === undefined && filter === `devices/${deviceId}/messages/devicebound/#`) return 'cloudToDevice';
  if (moduleId !== undefined && filter === `devices/${deviceId}/modules/${moduleId}/inputs/#`) return 'moduleInputs';
  // The topic-level filter without the wildcard is accepted by the hub too (the docs say `#` only admits the property bag).
  if (moduleId === undefined && filter === `devices/${deviceId}/messages/devicebound/`) return 'cloudToDevice';
  return undefined;
}

/** `$iothub/twin/res/{status}/?$rid={rid}[&$version={version}]`. */
export function twinResponseTopic(status: number, requestId: string, version?: number): string {
  const versionPart = version === undefined ? '' : `&$version=${version}`;
  return `$iothub/twin/res/${status}/?$rid=${encodeURIComponent(requestId)}${versionPart}`;
}

/** `$iothub/twin/PATCH/properties/desired/?$version={version}`. */
export function desiredUpdateTopic(version: number): string {
  return `$iothub/twin/PATCH/properties/desired/?$version=${version}`;
}

/** `$iothub/methods/POST/{name}/?$rid={rid}`. The SDK takes the method name from the fourth topic level. */
export function methodRequestTopic(methodName: string, requestId: string): string {
  return `$iothub/methods/POST/${methodName}/?$rid=${encodeURIComponent(requestId)}`;
}

/** `devices/{id}/messages/devicebound/{property_bag}`. */
export function cloudToDeviceTopic(deviceId: string, properties: PropertyBag): string {
  return `devices/${deviceId}/messages/devicebound/${formatPropertyBag(properties)}`;
}

/** Parses `k=v&k2=v2` (RFC 2396 escapes; a lone key means null). Malformed escapes are kept literally. */
export function parsePropertyBag(bag: string): PropertyBag {
  if (bag === '') return [];
  const out: Array<readonly [string, string | null]> = [];
  for (const pair of bag.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq < 0) out.push([decode(pair), null]);
    else out.push([decode(pair.slice(0, eq)), decode(pair.slice(eq + 1))]);
  }
  return out;
}

/** The inverse of {@link parsePropertyBag}, in the representation the hub documents for device-bound messages. */
export function formatPropertyBag(properties: PropertyBag): string {
  return properties
    .map(([key, value]) => (value === null ? encodeURIComponent(key) : `${encodeURIComponent(key)}=${encodeURIComponent(value)}`))
    .join('&');
}

function readQuery(query: string): Map<string, string | null> {
  return new Map(parsePropertyBag(query));
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, '%20'));
  } catch {
    return text;
  }
}
