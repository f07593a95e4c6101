import { buildDecodeMix } from '../../testing/decode-mix';
import { summarize } from '../../shared/domain/batch-summary';
import { decodeBatch, MAX_NOTIFICATION_BYTES } from '../../shared/domain/decode-events';
import { seededRandom } from '../../shared/domain/seeded-random';
import type { DecodedEvent, EventPosition } from '../../shared/domain/types';
import {
  connectionStateEvent,
  deviceCreatedEvent,
  deviceDeletedEvent,
  desiredChangeEvent,
  digitalTwinChangeEvent,
  fromWireEvent,
  hostBatch,
  type HostEventInput,
  moduleCreatedEvent,
  moduleDeletedEvent,
  reportedPatchEvent,
  telemetryEvent,
} from '../fixtures/host-batches';
import { REFERENCE_SAMPLES, type ReferenceSampleName } from '../fixtures/reference-samples';

function decodeOne(event: HostEventInput, options?: Parameters<typeof hostBatch>[1]): DecodedEvent {
  const { messages, triggerMetadata } = hostBatch([event], options);
  const [decoded, ...rest] = decodeBatch(messages, triggerMetadata);
  expect(rest).toEqual([]);
  if (!decoded) throw new Error('no event decoded');
  return decoded;
}

function decodeSample(name: ReferenceSampleName): DecodedEvent {
  return decodeOne(fromWireEvent(REFERENCE_SAMPLES[name]));
}

function samplePosition(name: ReferenceSampleName): EventPosition {
  const position = REFERENCE_SAMPLES[name].position;
  if (!position) throw new Error(`sample ${name} has no position`);
  return { partitionId: '0', sequenceNumber: position.sequenceNumber, offset: position.offset, enqueuedTime: position.enqueuedTime };
}

const FIRST_POSITION: EventPosition = {
  partitionId: '0',
  sequenceNumber: 1000,
  offset: '1024000',
  enqueuedTime: new Date('2024-05-01T12:00:00.000Z'),
};
const OPERATION_TIME = new Date('2024-05-01T11:59:59.500Z');

describe('decodeBatch: reference notifications', () => {
  it('module created (current form: createDeviceIdentity + moduleId) → moduleCreated', () => {
    expect(decodeSample('moduleCreated')).toEqual({
      kind: 'moduleCreated',
      position: samplePosition('moduleCreated'),
      deviceId: 'contoso-device-2',
      moduleId: 'module-1',
      hubName: 'contoso-routing-hub',
      operationTime: new Date('2022-05-27T18:49:38.490Z'),
      twin: REFERENCE_SAMPLES.moduleCreated.body,
    });
  });

  it('module created (legacy moduleLifecycleEvents / createModuleIdentity) → moduleCreated', () => {
    expect(decodeSample('legacyModuleCreated')).toEqual({
      kind: 'moduleCreated',
      position: samplePosition('legacyModuleCreated'),
      deviceId: 'contoso-device-4',
      moduleId: 'azureiotsecurity',
      hubName: 'contoso-routing-hub',
      operationTime: new Date('2018-06-20T16:10:52.000Z'),
      twin: REFERENCE_SAMPLES.legacyModuleCreated.body,
    });
  });

  it('device created → deviceCreated with the twin body', () => {
    expect(decodeSample('deviceCreated')).toEqual({
      kind: 'deviceCreated',
      position: samplePosition('deviceCreated'),
      deviceId: 'contoso-device-2',
      hubName: 'contoso-routing-hub',
      operationTime: new Date('2022-05-27T18:49:38.490Z'),
      twin: REFERENCE_SAMPLES.deviceCreated.body,
    });
  });

  it('device deleted → deviceDeleted', () => {
    expect(decodeSample('deviceDeleted')).toMatchObject({
      kind: 'deviceDeleted',
      deviceId: 'contoso-device-2',
      twin: REFERENCE_SAMPLES.deviceDeleted.body,
    });
  });

  it('module twin desired + tags update → twinChanged updateTwin with the module', () => {
    expect(decodeSample('moduleTwinDesiredUpdate')).toEqual({
      kind: 'twinChanged',
      opType: 'updateTwin',
      position: samplePosition('moduleTwinDesiredUpdate'),
      deviceId: 'contoso-device-3',
      moduleId: 'module-1',
      hubName: 'contoso-routing-hub',
      operationTime: new Date('2022-06-01T22:27:50.261Z'),
      body: REFERENCE_SAMPLES.moduleTwinDesiredUpdate.body,
    });
  });

  it('micro agent reported patch → twinChanged on DefenderIotMicroAgent', () => {
    expect(decodeSample('microAgentReportedUpdate')).toEqual({
      kind: 'twinChanged',
      opType: 'updateTwin',
      position: samplePosition('microAgentReportedUpdate'),
      deviceId: 'contoso-device-3',
      moduleId: 'DefenderIotMicroAgent',
      hubName: 'contoso-routing-hub',
      operationTime: new Date('2024-03-04T10:11:12.123Z'),
      body: REFERENCE_SAMPLES.microAgentReportedUpdate.body,
    });
  });

  it('device twin replaced → twinChanged replaceTwin without module', () => {
    const decoded = decodeSample('deviceTwinReplaced');
    expect(decoded).toEqual({
      kind: 'twinChanged',
      opType: 'replaceTwin',
      position: samplePosition('deviceTwinReplaced'),
      deviceId: 'contoso-device-3',
      hubName: 'contoso-routing-hub',
      operationTime: new Date('2024-03-04T11:00:00.000Z'),
      body: REFERENCE_SAMPLES.deviceTwinReplaced.body,
    });
    expect('moduleId' in decoded).toBe(false);
  });

  it.each<[ReferenceSampleName, string, string]>([
    ['deviceConnected', 'connectionState', 'contoso-device-3'],
    ['digitalTwinChanged', 'digitalTwin', 'thermostat-1'],
    ['telemetryJson', 'telemetry', 'sensor-7'],
    ['telemetryText', 'telemetry', 'sensor-7'],
    ['telemetryBinary', 'telemetry', 'sensor-7'],
  ])('%s → skipped %s', (name, category, deviceId) => {
    expect(decodeSample(name)).toEqual({ kind: 'skipped', category, deviceId, position: samplePosition(name) });
  });
});

describe('decodeBatch: discrimination never trusts opType or schema alone', () => {
  it('telemetry imitating a twin notification in its application properties is skipped', () => {
    const spoof = telemetryEvent(
      'sensor-7',
      { version: 1, properties: { reported: { latest_state: 'success' } } },
      {
        opType: 'updateTwin',
        'iothub-message-schema': 'twinChangeNotification',
        moduleId: 'DefenderIotMicroAgent',
        deviceId: 'victim-device',
      },
    );
    expect(decodeOne(spoof)).toEqual({ kind: 'skipped', category: 'telemetry', deviceId: 'victim-device', position: FIRST_POSITION });
  });

  it('a digital twin change (opType updateTwin, JSON Patch body) is skipped, not a twin change', () => {
    const event = digitalTwinChangeEvent({ deviceId: 'thermostat-1', patch: [{ op: 'replace', path: '/targetTemperature', value: 20 }] });
    expect(decodeOne(event)).toEqual({ kind: 'skipped', category: 'digitalTwin', deviceId: 'thermostat-1', position: FIRST_POSITION });
  });

  it.each([
    ['no source annotation', 'telemetry', undefined],
    ['Telemetry', 'telemetry', 'Telemetry'],
    ['deviceConnectionStateEvents', 'connectionState', 'deviceConnectionStateEvents'],
    ['deviceJobLifecycleEvents', 'jobLifecycle', 'deviceJobLifecycleEvents'],
    ['an unknown source', 'other', 'mqttBrokerMessages'],
  ])('%s → skipped %s', (_label, category, source) => {
    const event = connectionStateEvent({ deviceId: 'd1', connected: false });
    const systemProperties = { ...event.systemProperties };
    if (source === undefined) delete systemProperties['iothub-message-source'];
    else systemProperties['iothub-message-source'] = source;
    expect(decodeOne({ ...event, systemProperties })).toEqual({ kind: 'skipped', category, deviceId: 'd1', position: FIRST_POSITION });
  });

  it('module vs device is decided by the module id, not by opType', () => {
    const event = moduleCreatedEvent({ deviceId: 'd1', moduleId: 'DefenderIotMicroAgent' });
    expect(event.properties?.['opType']).toBe('createDeviceIdentity');
    expect(decodeOne(event)).toMatchObject({ kind: 'moduleCreated', deviceId: 'd1', moduleId: 'DefenderIotMicroAgent' });
  });

  it('a module is recognised from the connection module id annotation alone', () => {
    const event = moduleDeletedEvent({ deviceId: 'd1', moduleId: 'm1' });
    const properties = { ...event.properties };
    delete properties['moduleId'];
    const body = { ...(event.body as Record<string, unknown>) };
    delete body['moduleId'];
    expect(decodeOne({ ...event, properties, body })).toMatchObject({ kind: 'moduleDeleted', moduleId: 'm1' });
  });

  it('legacy module delete (deleteModuleIdentity) → moduleDeleted', () => {
    expect(decodeOne(moduleDeletedEvent({ deviceId: 'd1', moduleId: 'azureiotsecurity', form: 'legacy' }))).toMatchObject({
      kind: 'moduleDeleted',
      deviceId: 'd1',
      moduleId: 'azureiotsecurity',
    });
  });

  it('lowercase/odd-case sources from a hub are still recognised', () => {
    const event = reportedPatchEvent({ deviceId: 'd1', moduleId: 'm', patch: { a: 1 }, reportedVersion: 2, twinVersion: 3 });
    const systemProperties = { ...event.systemProperties, 'iothub-message-source': 'TwinChangeEvents' };
    expect(decodeOne({ ...event, systemProperties })).toMatchObject({ kind: 'twinChanged', opType: 'updateTwin' });
  });
});

describe('decodeBatch: device id and hub name', () => {
  const created = deviceCreatedEvent({ deviceId: 'dev#1?x' });

  it('prefers the deviceId property, then iothub-connection-device-id, then body.deviceId', () => {
    const noProperty = { ...created, properties: { ...created.properties } };
    delete noProperty.properties['deviceId'];
    expect(decodeOne(noProperty)).toMatchObject({ kind: 'deviceCreated', deviceId: 'dev#1?x' });

    const bodyOnly = { ...noProperty, systemProperties: { ...created.systemProperties } };
    delete bodyOnly.systemProperties['iothub-connection-device-id'];
    expect(decodeOne(bodyOnly)).toMatchObject({ kind: 'deviceCreated', deviceId: 'dev#1?x' });
  });

  it('reads the hub name from user-id bytes when the hubName property is absent', () => {
    const properties = { ...created.properties };
    delete properties['hubName'];
    expect(decodeOne({ ...created, properties }, { userIdAs: 'bytes' })).toMatchObject({ hubName: 'twinguard-test-hub' });
    expect(decodeOne({ ...created, properties }, { userIdAs: 'string' })).toMatchObject({ hubName: 'twinguard-test-hub' });
  });

  it('falls back to the enqueued time when operationTimestamp is absent or unparseable', () => {
    for (const operationTimestamp of [undefined, 'yesterday']) {
      const properties = { ...created.properties, operationTimestamp };
      expect(decodeOne({ ...created, properties })).toMatchObject({ operationTime: FIRST_POSITION.enqueuedTime });
    }
    expect(decodeOne(created)).toMatchObject({ operationTime: OPERATION_TIME });
  });
});

describe('decodeBatch: invalid notifications become InvalidEvents with the raw payload', () => {
  const reported = reportedPatchEvent({
    deviceId: 'd1',
    moduleId: 'DefenderIotMicroAgent',
    patch: { latest_state: 'success' },
    reportedVersion: 4,
    twinVersion: 9,
  });
  const source = 'twinChangeEvents';
  const schema = 'twinChangeNotification';

  it.each<[string, HostEventInput, string, string]>([
    ['body that is not JSON', { ...reported, body: '{"version": 9,' }, 'body is not valid JSON', '{"version": 9,'],
    ['JSON array body', { ...reported, body: [1, 2] }, 'body is not a JSON object (array)', '[1,2]'],
    ['JSON number body', { ...reported, body: '42' }, 'body is not a JSON object (number)', '42'],
    [
      'unknown opType',
      { ...reported, properties: { ...reported.properties, opType: 'patchTwin' } },
      'unknown opType "patchTwin" for source "twinChangeEvents"',
      '',
    ],
    ['missing opType', { ...reported, properties: { ...reported.properties, opType: undefined } }, 'opType property missing', ''],
    [
      'a schema that does not belong to the source',
      { ...reported, properties: { ...reported.properties, 'iothub-message-schema': 'deviceLifecycleNotification' } },
      'unknown schema "deviceLifecycleNotification" for source "twinChangeEvents"',
      '',
    ],
    [
      'deviceId property disagreeing with the connection device id',
      { ...reported, systemProperties: { ...reported.systemProperties, 'iothub-connection-device-id': 'd2' } },
      'deviceId property "d1" differs from iothub-connection-device-id "d2"',
      '',
    ],
  ])('%s', (_label, event, reason, raw) => {
    const decoded = decodeOne(event);
    const expectedRaw = raw === '' ? JSON.stringify(reported.body) : raw;
    expect(decoded).toEqual({
      kind: 'invalid',
      reason,
      position: FIRST_POSITION,
      deviceId: 'd1',
      raw: expectedRaw,
      rawSize: Buffer.byteLength(expectedRaw),
      source,
      schema: event.properties?.['iothub-message-schema'] ?? schema,
    });
  });

  it('body deviceId that differs from the event device', () => {
    const created = deviceCreatedEvent({ deviceId: 'd1' });
    const body = { ...(created.body as Record<string, unknown>), deviceId: 'd9' };
    expect(decodeOne({ ...created, body })).toMatchObject({
      kind: 'invalid',
      reason: 'body deviceId "d9" differs from the event\'s device "d1"',
      deviceId: 'd1',
    });
  });

  it('body moduleId that differs from the event module', () => {
    const created = moduleCreatedEvent({ deviceId: 'd1', moduleId: 'm1' });
    const body = { ...(created.body as Record<string, unknown>), moduleId: 'm2' };
    expect(decodeOne({ ...created, body })).toMatchObject({
      kind: 'invalid',
      reason: 'body moduleId "m2" differs from the event\'s module "m1"',
    });
  });

  it('no device id anywhere', () => {
    const properties = { ...reported.properties };
    delete properties['deviceId'];
    const systemProperties = { ...reported.systemProperties };
    delete systemProperties['iothub-connection-device-id'];
    const decoded = decodeOne({ ...reported, properties, systemProperties });
    expect(decoded).toMatchObject({
      kind: 'invalid',
      reason: 'device id missing (no deviceId property, connection device id or body deviceId)',
    });
    expect('deviceId' in decoded).toBe(false);
  });

  it('legacy createModuleIdentity without any module id', () => {
    const event = moduleCreatedEvent({ deviceId: 'd1', moduleId: 'm1', form: 'legacy' });
    const properties = { ...event.properties };
    delete properties['moduleId'];
    const systemProperties = { ...event.systemProperties };
    delete systemProperties['iothub-connection-module-id'];
    const body = { ...(event.body as Record<string, unknown>) };
    delete body['moduleId'];
    expect(decodeOne({ ...event, properties, systemProperties, body })).toMatchObject({
      kind: 'invalid',
      reason: 'createModuleIdentity without a module id',
      source: 'moduleLifecycleEvents',
    });
  });

  it(`oversize body (> ${MAX_NOTIFICATION_BYTES} bytes) is refused; exactly the limit is accepted`, () => {
    const template = JSON.stringify({ ...(reported.body as Record<string, unknown>), padding: '' });
    const padTo = (bytes: number): Record<string, unknown> => ({
      ...(reported.body as Record<string, unknown>),
      padding: 'x'.repeat(bytes - Buffer.byteLength(template)),
    });
    expect(decodeOne({ ...reported, body: padTo(MAX_NOTIFICATION_BYTES) })).toMatchObject({ kind: 'twinChanged' });
    const decoded = decodeOne({ ...reported, body: padTo(MAX_NOTIFICATION_BYTES + 1) });
    expect(decoded).toMatchObject({
      kind: 'invalid',
      reason: `body is ${MAX_NOTIFICATION_BYTES + 1} bytes; the limit is ${MAX_NOTIFICATION_BYTES}`,
      rawSize: MAX_NOTIFICATION_BYTES + 1,
    });
  });

  it('binary bodies (dataType binary) are kept as base64 with the byte length', () => {
    const bytes = Buffer.from([0x00, 0xff, 0xc3, 0x28]);
    expect(decodeOne({ ...reported, body: bytes }, { dataType: 'binary' })).toMatchObject({
      kind: 'invalid',
      reason: 'body is not valid UTF-8',
      raw: 'base64:AP/DKA==',
      rawSize: 4,
    });
  });

  it('1,024 random bytes are dead-lettered byte for byte as base64, never as U+FFFD text', () => {
    const random = seededRandom(10);
    const bytes = Buffer.from(Array.from({ length: 1024 }, () => Math.floor(random() * 256)));
    const decoded = decodeOne({ ...reported, body: bytes }, { dataType: 'binary' });
    expect(decoded).toMatchObject({ kind: 'invalid', reason: 'body is not valid UTF-8', rawSize: 1024 });
    const raw = decoded.kind === 'invalid' ? decoded.raw : '';
    expect(raw.startsWith('base64:')).toBe(true);
    expect(Buffer.from(raw.slice('base64:'.length), 'base64').equals(bytes)).toBe(true);
  });

  it.each<[string, Buffer, string, string]>([
    ['malformed JSON', Buffer.from('{"version": 9, "é":', 'utf8'), 'body is not valid JSON', '{"version": 9, "é":'],
    ['JSON that is not an object', Buffer.from('[1,2]', 'utf8'), 'body is not a JSON object (array)', '[1,2]'],
    ['a UTF-8 byte order mark before the JSON', Buffer.from('\ufeff{}', 'utf8'), 'body is not valid JSON', '\ufeff{}'],
    ['a truncated multi-byte character', Buffer.from([0x7b, 0x7d, 0xc3]), 'body is not valid UTF-8', 'base64:e33D'],
    ['an encoded surrogate (CESU-8)', Buffer.from([0xed, 0xa0, 0x80]), 'body is not valid UTF-8', 'base64:7aCA'],
    ['well-formed UTF-8 with control characters', Buffer.from([0x7b, 0x00, 0x13, 0x7d]), 'body is not valid JSON', 'base64:ewATfQ=='],
  ])('bytes holding %s: the reason says why; readable text stays text, other bytes base64', (_label, body, reason, raw) => {
    expect(decodeOne({ ...reported, body }, { dataType: 'binary' })).toEqual(
      expect.objectContaining({ kind: 'invalid', reason, raw, rawSize: body.byteLength, deviceId: 'd1' }),
    );
  });

  it('JSON bodies delivered as Buffers (dataType binary) decode like strings', () => {
    expect(decodeOne(reported, { dataType: 'binary' })).toMatchObject({ kind: 'twinChanged', body: reported.body });
  });

  it('telemetry bytes are skipped without being read, valid UTF-8 or not', () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x00]);
    expect(decodeOne(telemetryEvent('d1', bytes), { dataType: 'binary' })).toMatchObject({ kind: 'skipped', category: 'telemetry' });
  });

  describe('identity ids that IoT Hub could not have issued', () => {
    const accented = 'é'.repeat(200);
    it.each<[string, HostEventInput, RegExp]>([
      [
        'a 200 × é device id (connection device id and deviceId property)',
        {
          ...reported,
          properties: { ...reported.properties, deviceId: accented },
          systemProperties: { ...reported.systemProperties, 'iothub-connection-device-id': accented },
        },
        /^device id "é{140}"… is not a legal IoT Hub device id$/,
      ],
      [
        'a device id with a space, only in the body of a lifecycle event',
        (() => {
          const created = deviceCreatedEvent({ deviceId: 'placeholder' });
          const { deviceId: _p, ...properties } = created.properties ?? {};
          const { 'iothub-connection-device-id': _c, ...systemProperties } = created.systemProperties ?? {};
          return { ...created, properties, systemProperties, body: { ...(created.body as object), deviceId: 'has space' } };
        })(),
        /^device id "has space" is not a legal IoT Hub device id$/,
      ],
      [
        'a 129-character device id',
        {
          ...reported,
          properties: { ...reported.properties, deviceId: 'd'.repeat(129) },
          systemProperties: { ...reported.systemProperties, 'iothub-connection-device-id': 'd'.repeat(129) },
        },
        /^device id "d{129}" is not a legal IoT Hub device id$/,
      ],
      [
        'a module id with a slash',
        {
          ...reported,
          properties: { ...reported.properties, moduleId: 'Defender/IotMicroAgent' },
          systemProperties: { ...reported.systemProperties, 'iothub-connection-module-id': 'Defender/IotMicroAgent' },
        },
        /^module id "Defender\/IotMicroAgent" is not a legal IoT Hub module id$/,
      ],
    ])('%s → dead letter with the reason, never a posture event', (_label, event, reason) => {
      for (const dataType of ['binary', 'string'] as const) {
        const decoded = decodeOne(event, { dataType });
        expect(decoded.kind).toBe('invalid');
        expect(decoded.kind === 'invalid' && decoded.reason).toMatch(reason);
      }
    });

    it("records only a legal id as the dead letter's device", () => {
      const decoded = decodeOne({
        ...reported,
        properties: { ...reported.properties, deviceId: accented },
        systemProperties: { ...reported.systemProperties, 'iothub-connection-device-id': accented },
      });
      expect(decoded).not.toHaveProperty('deviceId');
      const legalModuleWrong = decodeOne({
        ...reported,
        properties: { ...reported.properties, moduleId: 'a b' },
        systemProperties: { ...reported.systemProperties, 'iothub-connection-module-id': 'a b' },
      });
      expect(legalModuleWrong).toMatchObject({ kind: 'invalid', deviceId: 'd1' });
    });

    it('every legal punctuation character is still accepted', () => {
      const deviceId = "line-3#cell?7%'b:+_*!(),=@;$.";
      expect(decodeOne(deviceCreatedEvent({ deviceId }), { dataType: 'binary' })).toMatchObject({ kind: 'deviceCreated', deviceId });
    });
  });

  it('an invalid event never stops the rest of the batch', () => {
    const good = deviceCreatedEvent({ deviceId: 'after' });
    const { messages, triggerMetadata } = hostBatch([{ ...reported, body: 'garbage' }, good]);
    expect(decodeBatch(messages, triggerMetadata).map((event) => event.kind)).toEqual(['invalid', 'deviceCreated']);
  });
});

describe('decodeBatch: positions', () => {
  const events = [deviceCreatedEvent({ deviceId: 'a' }), telemetryEvent('a', { t: 1 }), deviceCreatedEvent({ deviceId: 'b' })];

  it('reads partition, sequence number, offset string and enqueued time per event', () => {
    const { messages, triggerMetadata } = hostBatch(events, { partitionId: '7', firstSequenceNumber: 42 });
    expect(decodeBatch(messages, triggerMetadata).map((event) => event.position)).toEqual([
      { partitionId: '7', sequenceNumber: 42, offset: '43008', enqueuedTime: new Date('2024-05-01T12:00:00.000Z') },
      { partitionId: '7', sequenceNumber: 43, offset: '44032', enqueuedTime: new Date('2024-05-01T12:00:00.010Z') },
      { partitionId: '7', sequenceNumber: 44, offset: '45056', enqueuedTime: new Date('2024-05-01T12:00:00.020Z') },
    ]);
  });

  it.each(['noZone', 'utc', 'epochMs'] as const)('enqueued time serialised as %s decodes to the same UTC instant', (dateStyle) => {
    const { messages, triggerMetadata } = hostBatch(events.slice(0, 1), { dateStyle });
    expect(decodeBatch(messages, triggerMetadata)[0]?.position.enqueuedTime).toEqual(new Date('2024-05-01T12:00:00.000Z'));
  });

  it('prefers offsetStringArray (non-numeric offsets survive) over offsetArray', () => {
    const { messages, triggerMetadata } = hostBatch([{ ...events[0]!, offset: 'geo:17:4096' }]);
    expect(triggerMetadata.offsetArray).toEqual(['-1']);
    expect(decodeBatch(messages, triggerMetadata)[0]?.position.offset).toBe('geo:17:4096');
  });

  it('uses triggerPartitionContext when partitionContext is absent', () => {
    const { messages, triggerMetadata } = hostBatch(events.slice(0, 1), { partitionId: '3' });
    const { partitionContext: _dropped, ...rest } = triggerMetadata;
    expect(decodeBatch(messages, rest)[0]?.position.partitionId).toBe('3');
  });

  it('falls back to the per-event system properties when the position arrays are missing', () => {
    const { messages, triggerMetadata } = hostBatch(events, { firstSequenceNumber: 42 });
    const { sequenceNumberArray: _s, offsetArray: _o, offsetStringArray: _os, enqueuedTimeUtcArray: _e, ...rest } = triggerMetadata;
    expect(decodeBatch(messages, rest).map((event) => [event.kind, event.position.sequenceNumber, event.position.offset])).toEqual([
      ['deviceCreated', 42, '43008'],
      ['skipped', 43, '44032'],
      ['deviceCreated', 44, '45056'],
    ]);
  });

  it('without any position source, notifications are invalid with a synthetic position; telemetry stays skipped', () => {
    const { messages, triggerMetadata } = hostBatch(events);
    const stripped = triggerMetadata.systemPropertiesArray.map((properties) => {
      const copy = { ...properties };
      for (const key of ['sequenceNumber', 'x-opt-sequence-number', 'enqueuedTimeUtc', 'x-opt-enqueued-time']) delete copy[key];
      return copy;
    });
    const decoded = decodeBatch(messages, {
      ...triggerMetadata,
      sequenceNumberArray: [1000],
      enqueuedTimeUtcArray: ['2024-05-01T12:00:00.000'],
      systemPropertiesArray: stripped,
    });
    expect(decoded[0]).toMatchObject({ kind: 'deviceCreated', position: FIRST_POSITION });
    expect(decoded[1]).toEqual({
      kind: 'skipped',
      category: 'telemetry',
      deviceId: 'a',
      position: { partitionId: '0', sequenceNumber: -2, offset: '1025024', enqueuedTime: new Date(0) },
    });
    expect(decoded[2]).toMatchObject({
      kind: 'invalid',
      reason: 'event position unknown: sequence number, enqueued time missing from the trigger metadata',
      deviceId: 'b',
      position: { partitionId: '0', sequenceNumber: -3, offset: '1026048', enqueuedTime: new Date(0) },
      raw: JSON.stringify(events[2]!.body),
    });
  });

  it('without a partition context the partition is "unknown" and notifications are invalid', () => {
    const { messages, triggerMetadata } = hostBatch(events.slice(0, 1));
    const { partitionContext: _p, triggerPartitionContext: _t, ...rest } = triggerMetadata;
    expect(decodeBatch(messages, rest)[0]).toMatchObject({
      kind: 'invalid',
      reason: 'event position unknown: partition id missing from the trigger metadata',
      position: { partitionId: 'unknown', sequenceNumber: 1000 },
    });
  });

  it('missing system properties make the event invalid: telemetry and notifications cannot be told apart', () => {
    const { messages, triggerMetadata } = hostBatch(events.slice(0, 1));
    expect(decodeBatch(messages, { ...triggerMetadata, systemPropertiesArray: [] })[0]).toEqual({
      kind: 'invalid',
      reason: 'system properties missing from the trigger metadata: cannot tell telemetry from notifications',
      position: FIRST_POSITION,
      raw: JSON.stringify(events[0]!.body),
      rawSize: Buffer.byteLength(JSON.stringify(events[0]!.body)),
      schema: 'deviceLifecycleNotification',
    });
  });

  it('garbage trigger metadata still yields one event per message', () => {
    expect(decodeBatch(['x', { a: 1 }], 'not metadata').map((event) => [event.kind, event.position])).toEqual([
      ['invalid', { partitionId: 'unknown', sequenceNumber: -1, offset: '', enqueuedTime: new Date(0) }],
      ['invalid', { partitionId: 'unknown', sequenceNumber: -2, offset: '', enqueuedTime: new Date(0) }],
    ]);
  });

  it('a non-array message is one event read with the cardinality-one metadata keys', () => {
    const { messages, triggerMetadata } = hostBatch(events.slice(0, 1));
    const single = {
      partitionContext: triggerMetadata.partitionContext,
      sequenceNumber: 1000,
      offsetString: '1024000',
      enqueuedTimeUtc: '2024-05-01T12:00:00',
      properties: triggerMetadata.propertiesArray[0],
      systemProperties: triggerMetadata.systemPropertiesArray[0],
    };
    expect(decodeBatch(messages[0], single)).toEqual([
      expect.objectContaining({ kind: 'deviceCreated', deviceId: 'a', position: FIRST_POSITION }),
    ]);
  });
});

describe('summarize', () => {
  it('counts kinds and skipped categories, with zeros for the rest', () => {
    const { messages, triggerMetadata } = hostBatch([
      deviceCreatedEvent({ deviceId: 'a' }),
      deviceDeletedEvent({ deviceId: 'a' }),
      moduleCreatedEvent({ deviceId: 'a', moduleId: 'm' }),
      reportedPatchEvent({ deviceId: 'a', moduleId: 'm', patch: { x: 1 }, reportedVersion: 2, twinVersion: 3 }),
      desiredChangeEvent({ deviceId: 'a', moduleId: 'm', desired: { y: 2 }, desiredVersion: 2, twinVersion: 4, tags: { site: 's' } }),
      telemetryEvent('a', 'text'),
      telemetryEvent('a', Buffer.from([1, 2, 3])),
      connectionStateEvent({ deviceId: 'a', connected: true }),
      { ...deviceCreatedEvent({ deviceId: 'a' }), body: 'broken' },
    ]);
    expect(summarize(decodeBatch(messages, triggerMetadata))).toEqual({
      total: 9,
      byKind: { deviceCreated: 1, deviceDeleted: 1, moduleCreated: 1, moduleDeleted: 0, twinChanged: 2, skipped: 3, invalid: 1 },
      skipped: { telemetry: 2, connectionState: 1, digitalTwin: 0, jobLifecycle: 0, other: 0 },
      invalid: 1,
    });
  });

  it('an empty batch summarises to zeros', () => {
    expect(summarize(decodeBatch([], {}))).toEqual({
      total: 0,
      byKind: { deviceCreated: 0, deviceDeleted: 0, moduleCreated: 0, moduleDeleted: 0, twinChanged: 0, skipped: 0, invalid: 0 },
      skipped: { telemetry: 0, connectionState: 0, digitalTwin: 0, jobLifecycle: 0, other: 0 },
      invalid: 0,
    });
  });
});

describe('the benchmark mix', () => {
  it('decodes to exactly the events it was built from, none invalid', () => {
    const mix = buildDecodeMix({ devices: 50, batches: 5, batchSize: 100 });
    const summary = summarize(mix.batches.flatMap((batch) => decodeBatch(batch.messages, batch.triggerMetadata)));
    expect(summary).toEqual({
      total: 500,
      byKind: {
        deviceCreated: mix.expected.deviceCreated,
        deviceDeleted: 0,
        moduleCreated: mix.expected.moduleCreated,
        moduleDeleted: 0,
        twinChanged: mix.expected.reported + mix.expected.desired,
        skipped: mix.expected.telemetryJson + mix.expected.telemetryText,
        invalid: 0,
      },
      skipped: {
        telemetry: mix.expected.telemetryJson + mix.expected.telemetryText,
        connectionState: 0,
        digitalTwin: 0,
        jobLifecycle: 0,
        other: 0,
      },
      invalid: 0,
    });
    expect(mix.expected).toEqual({
      reported: 300,
      desired: 50,
      deviceCreated: 20,
      moduleCreated: 20,
      telemetryJson: 70,
      telemetryText: 40,
    });
  });
});
