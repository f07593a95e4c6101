/**
 * toHostShapedBatch (standalone host) against the host-shaped fixtures the handler tests use: the
 * same wire events, received once through @azure/event-hubs' own AMQP → ReceivedEventData
 * conversion and once as the Functions host would deliver them, must decode to identical events.
 */
import * as path from 'node:path';
import { message as amqpMessage, type Message as AmqpMessage } from 'rhea';
import { iothubEventsOptions } from '../../functions/iothub-events';
import {
  DEFAULT_HOST_DATA_TYPE,
  dotNetUnspecifiedDateTime,
  dotNetUtcDateTime,
  toHostShapedBatch,
  type PartitionContextLike,
  type ReceivedEventLike,
} from '../../host/host-batch';
import { decodeBatch } from '../../shared/domain/decode-events';
import {
  connectionStateEvent,
  desiredChangeEvent,
  deviceCreatedEvent,
  deviceDeletedEvent,
  digitalTwinChangeEvent,
  hostBatch,
  type HostEventInput,
  moduleCreatedEvent,
  reportedPatchEvent,
  telemetryEvent,
} from '../fixtures/host-batches';

/** @azure/event-hubs' converter from a received AMQP message to ReceivedEventData (what subscribe() hands out). */
type FromRheaMessage = (message: AmqpMessage, skipParsingBodyAsJson: boolean) => ReceivedEventLike;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- internal module of the SDK, not in its exports map
const { fromRheaMessage } = require(path.join(path.dirname(require.resolve('@azure/event-hubs')), 'eventData.js')) as {
  fromRheaMessage: FromRheaMessage;
};

const PARTITION: PartitionContextLike = {
  fullyQualifiedNamespace: 'ihsuprodxx000dednamespace.servicebus.windows.net',
  eventHubName: 'iothub-ehub-twinguard-0000000-0000000000',
  consumerGroup: 'twinguard',
  partitionId: '3',
};
const FIRST_SEQUENCE_NUMBER = 4200;
// Non-zero milliseconds with a trailing zero: .NET writes `…00.12`, never `…00.120`.
const FIRST_ENQUEUED = new Date('2024-05-01T12:00:00.120Z');

/** AMQP properties-section fields, keyed as the fixtures (and .NET's SystemProperties) name them. */
const AMQP_FIELDS: Record<string, keyof AmqpMessage> = {
  'message-id': 'message_id',
  'user-id': 'user_id',
  'correlation-id': 'correlation_id',
  'content-type': 'content_type',
  'content-encoding': 'content_encoding',
};

interface Position {
  sequenceNumber: number;
  offset: string;
  enqueuedTime: Date;
  partitionKey?: string | null;
}

function wireBytes(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  return Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
}

/** The event as it travels on the wire (what the emulator / IoT Hub sends over AMQP). */
function toAmqp(event: HostEventInput, at: Position): AmqpMessage {
  const annotations: Record<string, unknown> = {};
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event.systemProperties ?? {})) {
    const field = AMQP_FIELDS[key];
    if (field === undefined) annotations[key] = value;
    else fields[field] = field === 'user_id' ? Buffer.from(String(value), 'utf8') : value;
  }
  annotations['x-opt-sequence-number'] = at.sequenceNumber;
  annotations['x-opt-offset'] = at.offset;
  annotations['x-opt-enqueued-time'] = at.enqueuedTime;
  if (at.partitionKey) annotations['x-opt-partition-key'] = at.partitionKey;
  return {
    ...fields,
    body: amqpMessage.data_section(wireBytes(event.body)) as unknown, // rhea types sections as any
    application_properties: { ...(event.properties ?? {}) },
    message_annotations: annotations,
  };
}

function positions(count: number, offsetOf: (sequenceNumber: number) => string = (n) => String(n * 1024)): Position[] {
  return Array.from({ length: count }, (_, i) => ({
    sequenceNumber: FIRST_SEQUENCE_NUMBER + i,
    offset: offsetOf(FIRST_SEQUENCE_NUMBER + i),
    enqueuedTime: new Date(FIRST_ENQUEUED.getTime() + 10 * i),
  }));
}

function received(events: readonly HostEventInput[], at: readonly Position[]): ReceivedEventLike[] {
  return events.map((event, i) => fromRheaMessage(toAmqp(event, at[i]!), true));
}

const MODULE = 'DefenderIotMicroAgent';

const MIXED_BATCH: HostEventInput[] = [
  deviceCreatedEvent({ deviceId: "line-3#cell?7%'b", authType: 'sas', edge: false, tags: { site: 'north' } }),
  moduleCreatedEvent({ deviceId: 'dev-1', moduleId: MODULE }),
  moduleCreatedEvent({ deviceId: 'dev-legacy', moduleId: MODULE, form: 'legacy' }),
  reportedPatchEvent({
    deviceId: 'dev-1',
    moduleId: MODULE,
    patch: { latest_state: 'failed', latest_invalid_fields: ['Process_Mode'] },
    reportedVersion: 4,
    twinVersion: 9,
  }),
  desiredChangeEvent({
    deviceId: 'dev-1',
    moduleId: MODULE,
    desired: { Process_Mode: 2 },
    desiredVersion: 3,
    twinVersion: 10,
    tags: { ring: 1 },
  }),
  deviceDeletedEvent({ deviceId: 'dev-gone' }),
  telemetryEvent('dev-1', { temperature: 21.5, unit: 'C' }),
  telemetryEvent('dev-1', 42),
  telemetryEvent('dev-1', 'plain text, not JSON'),
  telemetryEvent('dev-1', Buffer.from([0xff, 0x00, 0x13, 0xc3])),
  // A device imitating a notification on its telemetry: only the annotation tells it apart.
  telemetryEvent('dev-1', { version: 1 }, { opType: 'updateTwin', 'iothub-message-schema': 'twinChangeNotification', DeviceId: 'spoofed' }),
  connectionStateEvent({ deviceId: 'dev-1', connected: true }),
  digitalTwinChangeEvent({ deviceId: 'dev-1', patch: [{ op: 'replace', path: '/x', value: 1 }] }),
  // Truncated twin change: a poison event.
  {
    body: '{"version": 5, "properties":',
    properties: { deviceId: 'dev-1', moduleId: MODULE, opType: 'updateTwin', 'iothub-message-schema': 'twinChangeNotification' },
    systemProperties: { 'iothub-message-source': 'twinChangeEvents', 'iothub-connection-device-id': 'dev-1' },
  },
];

describe('toHostShapedBatch', () => {
  it('decodes to exactly the events the Functions host delivery decodes to (lifecycle, twin, telemetry JSON/text/binary, poison)', () => {
    const at = positions(MIXED_BATCH.length);
    const fixture = hostBatch(MIXED_BATCH, { ...PARTITION, firstSequenceNumber: FIRST_SEQUENCE_NUMBER, firstEnqueuedTime: FIRST_ENQUEUED });
    const standalone = toHostShapedBatch(received(MIXED_BATCH, at), PARTITION);

    const expected = decodeBatch(fixture.messages, fixture.triggerMetadata);
    const actual = decodeBatch(standalone.messages, standalone.triggerMetadata);
    expect(actual).toEqual(expected);

    // The comparison means something only if the mix really covers every kind, with real positions.
    expect(expected.map((e) => (e.kind === 'skipped' ? `skipped:${e.category}` : e.kind))).toEqual([
      'deviceCreated',
      'moduleCreated',
      'moduleCreated',
      'twinChanged',
      'twinChanged',
      'deviceDeleted',
      'skipped:telemetry',
      'skipped:telemetry',
      'skipped:telemetry',
      'skipped:telemetry',
      'skipped:telemetry',
      'skipped:connectionState',
      'skipped:digitalTwin',
      'invalid',
    ]);
    expect(actual.map((e) => e.position)).toEqual(
      at.map((p) => ({ partitionId: '3', sequenceNumber: p.sequenceNumber, offset: p.offset, enqueuedTime: p.enqueuedTime })),
    );
    const created = actual[0];
    expect(created?.kind === 'deviceCreated' && created.deviceId).toBe("line-3#cell?7%'b");
  });

  it('hands over the bodies as the registered dataType (binary) makes the worker do: one Buffer per event, bytes untouched', () => {
    expect(DEFAULT_HOST_DATA_TYPE).toBe(iothubEventsOptions.dataType);
    const at = positions(MIXED_BATCH.length);
    const fixture = hostBatch(MIXED_BATCH, {
      ...PARTITION,
      firstSequenceNumber: FIRST_SEQUENCE_NUMBER,
      firstEnqueuedTime: FIRST_ENQUEUED,
      dataType: 'binary',
    });
    const standalone = toHostShapedBatch(received(MIXED_BATCH, at), PARTITION);
    expect(standalone.messages).toEqual(fixture.messages);
    expect(standalone.messages.every((m) => Buffer.isBuffer(m))).toBe(true);
    expect(standalone.messages[7]).toEqual(Buffer.from('42'));
    expect(standalone.messages[8]).toEqual(Buffer.from('plain text, not JSON'));
    expect(standalone.messages[9]).toEqual(Buffer.from([0xff, 0x00, 0x13, 0xc3]));
    expect(decodeBatch(standalone.messages, standalone.triggerMetadata)).toEqual(decodeBatch(fixture.messages, fixture.triggerMetadata));
  });

  it('hands over the bodies as the worker does for dataType string: parsed JSON, else the (lossy UTF-8) text', () => {
    const at = positions(MIXED_BATCH.length);
    const fixture = hostBatch(MIXED_BATCH, {
      ...PARTITION,
      firstSequenceNumber: FIRST_SEQUENCE_NUMBER,
      firstEnqueuedTime: FIRST_ENQUEUED,
      dataType: 'string',
    });
    const standalone = toHostShapedBatch(received(MIXED_BATCH, at), PARTITION, 'string');
    expect(standalone.messages).toEqual(fixture.messages);
    expect(standalone.messages[7]).toBe(42);
    expect(standalone.messages[8]).toBe('plain text, not JSON');
    expect(standalone.messages[9]).toBe(Buffer.from([0xff, 0x00, 0x13, 0xc3]).toString('utf8'));
    expect(standalone.messages.some((m) => Buffer.isBuffer(m))).toBe(false);
  });

  it('keeps a binary notification body exact, so its dead letter holds the very bytes (not U+FFFD text)', () => {
    const bytes = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 151 + 7) % 256));
    const event: HostEventInput = { ...MIXED_BATCH[3]!, body: bytes };
    const batch = toHostShapedBatch(received([event], positions(1)), PARTITION);
    const [decoded] = decodeBatch(batch.messages, batch.triggerMetadata);
    expect(decoded).toMatchObject({
      kind: 'invalid',
      reason: 'body is not valid UTF-8',
      rawSize: 1024,
      raw: `base64:${bytes.toString('base64')}`,
    });
  });

  it('builds trigger metadata in the exact shape the host and worker produce', () => {
    const event: HostEventInput = {
      body: { deviceId: 'dev-9' },
      properties: { hubName: 'contoso-hub', DeviceId: 'dev-9', opType: 'createDeviceIdentity' },
      systemProperties: {
        'content-type': 'application/json',
        'content-encoding': 'utf-8',
        'correlation-id': 'c5a4e6986c',
        'user-id': 'contoso-hub',
        'iothub-connection-device-id': 'dev-9',
        'iothub-enqueuedtime': new Date('2022-05-27T18:49:38.5Z'),
        'iothub-message-source': 'deviceLifecycleEvents',
      },
    };
    const [sdkEvent] = received(
      [event],
      [{ sequenceNumber: 62, offset: '31768', enqueuedTime: new Date('2022-05-27T18:49:38.640Z'), partitionKey: 'pk-1' }],
    );
    const { triggerMetadata } = toHostShapedBatch([sdkEvent!], PARTITION);
    expect(triggerMetadata).toEqual({
      triggerPartitionContext: PARTITION,
      partitionContext: PARTITION,
      partitionKeyArray: ['pk-1'],
      offsetArray: ['31768'],
      offsetStringArray: ['31768'],
      sequenceNumberArray: [62],
      enqueuedTimeUtcArray: ['2022-05-27T18:49:38.64'],
      propertiesArray: [{ hubName: 'contoso-hub', deviceId: 'dev-9', opType: 'createDeviceIdentity' }],
      systemPropertiesArray: [
        {
          'content-type': 'application/json',
          'content-encoding': 'utf-8',
          'correlation-id': 'c5a4e6986c',
          'user-id': [...Buffer.from('contoso-hub', 'utf8')],
          'iothub-connection-device-id': 'dev-9',
          'iothub-enqueuedtime': '2022-05-27T18:49:38.5Z',
          'iothub-message-source': 'deviceLifecycleEvents',
          'x-opt-sequence-number': 62,
          'x-opt-offset': '31768',
          'x-opt-enqueued-time': '2022-05-27T18:49:38.64Z',
          'x-opt-partition-key': 'pk-1',
          sequenceNumber: 62,
          offset: 31768,
          offsetString: '31768',
          partitionKey: 'pk-1',
          enqueuedTimeUtc: '2022-05-27T18:49:38.64',
        },
      ],
    });
  });

  it('keeps user-id readable as the hub name when the hubName property is missing', () => {
    const event: HostEventInput = { ...deviceCreatedEvent({ deviceId: 'dev-5', hubName: 'plant-hub' }) };
    const { hubName: _hubName, ...properties } = event.properties ?? {};
    const withoutHubName = { ...event, properties };
    const fixture = hostBatch([withoutHubName], {
      ...PARTITION,
      firstSequenceNumber: FIRST_SEQUENCE_NUMBER,
      firstEnqueuedTime: FIRST_ENQUEUED,
    });
    const standalone = toHostShapedBatch(received([withoutHubName], positions(1)), PARTITION);
    const [fromFixture] = decodeBatch(fixture.messages, fixture.triggerMetadata);
    const [fromStandalone] = decodeBatch(standalone.messages, standalone.triggerMetadata);
    expect(fromFixture).toMatchObject({ kind: 'deviceCreated', hubName: 'plant-hub' });
    expect(fromStandalone).toEqual(fromFixture);
  });

  it('passes opaque (non-numeric) offsets through as offsetString and falls back to -1 where .NET parses a long', () => {
    const events = [telemetryEvent('dev-1', { a: 1 }), telemetryEvent('dev-1', { a: 2 })];
    const at = positions(2, (n) => `g1:${n}:7`);
    const { triggerMetadata } = toHostShapedBatch(received(events, at), PARTITION);
    expect(triggerMetadata['offsetStringArray']).toEqual([`g1:${FIRST_SEQUENCE_NUMBER}:7`, `g1:${FIRST_SEQUENCE_NUMBER + 1}:7`]);
    expect(triggerMetadata['offsetArray']).toEqual(['-1', '-1']);
    const system = triggerMetadata['systemPropertiesArray'] as Record<string, unknown>[];
    expect(system.map((s) => [s['offset'], s['offsetString'], s['x-opt-offset']])).toEqual([
      [-1, `g1:${FIRST_SEQUENCE_NUMBER}:7`, `g1:${FIRST_SEQUENCE_NUMBER}:7`],
      [-1, `g1:${FIRST_SEQUENCE_NUMBER + 1}:7`, `g1:${FIRST_SEQUENCE_NUMBER + 1}:7`],
    ]);
    const decoded = decodeBatch(toHostShapedBatch(received(events, at), PARTITION).messages, triggerMetadata);
    expect(decoded.map((e) => e.position.offset)).toEqual([`g1:${FIRST_SEQUENCE_NUMBER}:7`, `g1:${FIRST_SEQUENCE_NUMBER + 1}:7`]);
  });

  it('writes .NET DateTime values without a zone and with trailing fraction zeros trimmed', () => {
    expect(dotNetUnspecifiedDateTime(new Date('2024-05-01T12:00:00.000Z'))).toBe('2024-05-01T12:00:00');
    expect(dotNetUnspecifiedDateTime(new Date('2024-05-01T12:00:00.120Z'))).toBe('2024-05-01T12:00:00.12');
    expect(dotNetUnspecifiedDateTime(new Date('2024-05-01T12:00:00.007Z'))).toBe('2024-05-01T12:00:00.007');
    expect(dotNetUnspecifiedDateTime(new Date('2024-05-01T12:00:00.500Z'))).toBe('2024-05-01T12:00:00.5');
    expect(dotNetUtcDateTime(new Date('2024-05-01T12:00:00.500Z'))).toBe('2024-05-01T12:00:00.5Z');
    expect(dotNetUtcDateTime(new Date('2024-05-01T12:00:00.000Z'))).toBe('2024-05-01T12:00:00Z');
  });

  it('leaves the partition key null when the event has none', () => {
    const [sdkEvent] = received([telemetryEvent('dev-1', { a: 1 })], positions(1));
    expect(sdkEvent?.partitionKey).toBeUndefined(); // what the SDK gives without x-opt-partition-key
    const { triggerMetadata } = toHostShapedBatch([sdkEvent!], PARTITION);
    expect(triggerMetadata['partitionKeyArray']).toEqual([null]);
    const [system] = triggerMetadata['systemPropertiesArray'] as Record<string, unknown>[];
    expect(system).toMatchObject({ partitionKey: null, 'message-id': expect.any(String) as unknown });
    expect(system).not.toHaveProperty('x-opt-partition-key');
  });
});
