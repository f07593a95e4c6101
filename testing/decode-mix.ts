/**
 * A deterministic mix of IoT Hub events shaped as the Functions host delivers them to an Event Hub trigger with
 * cardinality 'many' and dataType 'string' (camel-cased metadata keys, zone-less dates), in a compact form: mostly
 * twin changes, some lifecycle, some telemetry. The decode benchmark times decodeBatch on it; a unit test decodes it
 * and checks the counts, so the two cannot drift apart silently.
 */
export interface DecodeMixOptions {
  devices: number;
  batches: number;
  batchSize: number;
}

export interface DecodeMix {
  batches: { messages: unknown[]; triggerMetadata: Record<string, unknown> }[];
  /** What the mix contains, by decoded kind / skipped category. */
  expected: {
    reported: number;
    desired: number;
    deviceCreated: number;
    moduleCreated: number;
    telemetryJson: number;
    telemetryText: number;
  };
}

const HUB = 'bench-hub';
const MODULE = 'DefenderIotMicroAgent';
const START_MS = Date.UTC(2024, 4, 1, 12);

type Shape = 'reported' | 'desired' | 'deviceCreated' | 'moduleCreated' | 'telemetryJson' | 'telemetryText';

/** 100 slots: mostly twin changes, some lifecycle, some telemetry. */
const SHAPE_WHEEL: readonly Shape[] = [
  ...Array<Shape>(60).fill('reported'),
  ...Array<Shape>(10).fill('desired'),
  ...Array<Shape>(4).fill('deviceCreated'),
  ...Array<Shape>(4).fill('moduleCreated'),
  ...Array<Shape>(14).fill('telemetryJson'),
  ...Array<Shape>(8).fill('telemetryText'),
];

function isoNoZone(ms: number): string {
  return new Date(ms).toISOString().slice(0, -1);
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

function notificationHeaders(source: string, schema: string, opType: string, deviceId: string, moduleId: string | undefined, ms: number) {
  const properties: Record<string, unknown> = {
    hubName: HUB,
    deviceId,
    operationTimestamp: stamp(ms),
    opType,
    'iothub-message-schema': schema,
  };
  const systemProperties: Record<string, unknown> = {
    'content-type': 'application/json',
    'content-encoding': 'utf-8',
    'correlation-id': `c${ms.toString(16)}`,
    'user-id': [98, 101, 110, 99, 104, 45, 104, 117, 98],
    'iothub-connection-device-id': deviceId,
    'iothub-enqueuedtime': isoNoZone(ms),
    'iothub-message-source': source,
  };
  if (moduleId !== undefined) {
    properties['moduleId'] = moduleId;
    systemProperties['iothub-connection-module-id'] = moduleId;
  }
  return { properties, systemProperties };
}

function buildEvent(
  shape: Shape,
  deviceId: string,
  sequence: number,
  ms: number,
): { body: unknown; properties: Record<string, unknown>; systemProperties: Record<string, unknown> } {
  const lastUpdated = stamp(ms);
  switch (shape) {
    case 'reported': {
      const state = sequence % 7 === 0 ? 'failed' : 'success';
      const body = {
        version: 10 + (sequence % 50),
        properties: {
          reported: {
            latest_state: state,
            latest_invalid_fields: state === 'failed' ? ['Process_Mode'] : [],
            $metadata: {
              $lastUpdated: lastUpdated,
              latest_state: { $lastUpdated: lastUpdated },
              latest_invalid_fields: { $lastUpdated: lastUpdated },
            },
            $version: 5 + (sequence % 40),
          },
        },
      };
      return { body, ...notificationHeaders('twinChangeEvents', 'twinChangeNotification', 'updateTwin', deviceId, MODULE, ms) };
    }
    case 'desired': {
      const meta = { $lastUpdated: lastUpdated, $lastUpdatedVersion: 3 };
      const body = {
        version: 9,
        tags: { site: `plant-${sequence % 13}`, tier: 'prod' },
        properties: {
          desired: {
            CollectorsCore_PriorityIntervals: '30,120,1440',
            Process_Mode: 1,
            Login_UsePAM: false,
            $metadata: { ...meta, CollectorsCore_PriorityIntervals: meta, Process_Mode: meta, Login_UsePAM: meta },
            $version: 3,
          },
        },
      };
      return { body, ...notificationHeaders('twinChangeEvents', 'twinChangeNotification', 'updateTwin', deviceId, MODULE, ms) };
    }
    case 'deviceCreated':
    case 'moduleCreated': {
      const moduleId = shape === 'moduleCreated' ? MODULE : undefined;
      const body: Record<string, unknown> = { deviceId };
      if (moduleId) body['moduleId'] = moduleId;
      Object.assign(body, {
        etag: 'AAAAAAAAAAE=',
        version: 2,
        properties: {
          desired: { $metadata: { $lastUpdated: lastUpdated }, $version: 1 },
          reported: { $metadata: { $lastUpdated: lastUpdated }, $version: 1 },
        },
      });
      return {
        body,
        ...notificationHeaders('deviceLifecycleEvents', 'deviceLifecycleNotification', 'createDeviceIdentity', deviceId, moduleId, ms),
      };
    }
    case 'telemetryJson':
    case 'telemetryText': {
      const body =
        shape === 'telemetryJson' ? { temperature: 20 + (sequence % 10), humidity: 40, ts: lastUpdated } : `t=${20 + (sequence % 10)};h=40`;
      return {
        body,
        properties: { alert: 'false' },
        systemProperties: {
          'message-id': `m${sequence}`,
          'iothub-connection-device-id': deviceId,
          'iothub-connection-auth-method': '{"scope":"device","type":"sas","issuer":"iothub"}',
          'iothub-enqueuedtime': isoNoZone(ms),
          'iothub-message-source': 'Telemetry',
        },
      };
    }
  }
}

/** Builds the whole mix up front so the timed loop measures decoding only. Deterministic. */
export function buildDecodeMix(options: DecodeMixOptions): DecodeMix {
  const expected = { reported: 0, desired: 0, deviceCreated: 0, moduleCreated: 0, telemetryJson: 0, telemetryText: 0 };
  const batches: DecodeMix['batches'] = [];
  let sequence = 0;
  for (let batchIndex = 0; batchIndex < options.batches; batchIndex++) {
    const messages: unknown[] = [];
    const offsets: string[] = [];
    const sequenceNumbers: number[] = [];
    const times: string[] = [];
    const propertiesArray: Record<string, unknown>[] = [];
    const systemPropertiesArray: Record<string, unknown>[] = [];
    for (let slot = 0; slot < options.batchSize; slot++, sequence++) {
      // Multiplying by a prime spreads consecutive events over the fleet.
      const shape = SHAPE_WHEEL[(sequence * 37) % SHAPE_WHEEL.length] as Shape;
      const deviceId = `device-${(sequence * 7919) % options.devices}`;
      const ms = START_MS + sequence * 3;
      const event = buildEvent(shape, deviceId, sequence, ms);
      expected[shape] += 1;
      // The worker hands JSON bodies over parsed and text bodies as strings.
      messages.push(typeof event.body === 'string' ? event.body : JSON.parse(JSON.stringify(event.body)));
      offsets.push(String(sequence * 640));
      sequenceNumbers.push(sequence);
      times.push(isoNoZone(ms + 40));
      propertiesArray.push(event.properties);
      systemPropertiesArray.push({
        ...event.systemProperties,
        'x-opt-sequence-number': sequence,
        'x-opt-offset': String(sequence * 640),
        'x-opt-enqueued-time': isoNoZone(ms + 40),
        sequenceNumber: sequence,
        offset: sequence * 640,
        offsetString: String(sequence * 640),
        partitionKey: null,
        enqueuedTimeUtc: isoNoZone(ms + 40),
      });
    }
    const partitionContext = {
      fullyQualifiedNamespace: 'bench.servicebus.windows.net',
      eventHubName: 'iothub-ehub-bench',
      consumerGroup: 'twinguard',
      partitionId: String(batchIndex % 4),
    };
    batches.push({
      messages,
      triggerMetadata: {
        partitionContext,
        triggerPartitionContext: partitionContext,
        partitionKeyArray: messages.map(() => null),
        offsetArray: offsets,
        offsetStringArray: offsets,
        sequenceNumberArray: sequenceNumbers,
        enqueuedTimeUtcArray: times,
        propertiesArray,
        systemPropertiesArray,
      },
    });
  }
  return { batches, expected };
}
