/**
 * Every IoT Hub notification shape, as an `@azure/event-hubs` consumer sees it on the emulated built-in
 * endpoint. Expected values follow the reference captures (non-telemetry event schema samples); the
 * only intended difference is the operationTimestamp's last 4 digits, which JS time cannot carry.
 */
import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';
import type { ReceivedEventData } from '@azure/event-hubs';
import { EventHubEndpoint } from '../../emulator/eventhub/endpoint';
import type { EventHubEndpointOptions } from '../../emulator/eventhub/endpoint';
import { DEFAULT_ROUTES } from '../../emulator/hub-events';
import type { HubChange } from '../../emulator/hub-events';
import { formatOperationTimestamp } from '../../emulator/notifications';

const HUB = 'contoso-routing-hub';
const FAST_RETRY = { maxRetries: 1, retryDelayInMs: 20, maxRetryDelayInMs: 50, timeoutInMs: 3000 };
const INITIAL_TWIN_PROPERTIES = {
  desired: { $metadata: { $lastUpdated: '0001-01-01T00:00:00Z' }, $version: 1 },
  reported: { $metadata: { $lastUpdated: '0001-01-01T00:00:00Z' }, $version: 1 },
};

let endpoint: EventHubEndpoint | undefined;
let consumer: EventHubConsumerClient | undefined;

async function open(
  overrides: Partial<EventHubEndpointOptions> = {},
): Promise<{ endpoint: EventHubEndpoint; consumer: EventHubConsumerClient }> {
  await close();
  endpoint = new EventHubEndpoint({
    hubName: HUB,
    eventHubName: 'contoso-routing-hub-ehcompat',
    partitionCount: 4,
    consumerGroups: [],
    sharedAccessKeyName: 'service',
    sharedAccessKey: 'bm90LWEtcmVhbC1rZXk=',
    routes: DEFAULT_ROUTES,
    ...overrides,
  });
  await endpoint.start();
  consumer = new EventHubConsumerClient('$Default', endpoint.connectionString(), { retryOptions: FAST_RETRY });
  return { endpoint, consumer };
}

async function close(): Promise<void> {
  await consumer?.close();
  await endpoint?.stop();
  consumer = undefined;
  endpoint = undefined;
}

afterEach(close);

function opened(): { endpoint: EventHubEndpoint; consumer: EventHubConsumerClient } {
  if (endpoint === undefined || consumer === undefined) throw new Error('open() first');
  return { endpoint, consumer };
}

/** Reads `count` events of one partition from its start; rejects on timeout so failures are quick. */
async function readPartition(partitionId: string, count: number, timeoutMs = 5000): Promise<ReceivedEventData[]> {
  const { consumer } = opened();
  const received: ReceivedEventData[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => void subscription.close().then(() => reject(new Error(`received ${received.length} of ${count}`))),
      timeoutMs,
    );
    const subscription = consumer.subscribe(
      partitionId,
      {
        processEvents: async (events) => {
          received.push(...events);
          if (received.length >= count) {
            clearTimeout(timer);
            await subscription.close();
            resolve(received);
          }
        },
        processError: async (error) => {
          clearTimeout(timer);
          await subscription.close();
          reject(error);
        },
      },
      { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
    );
  });
}

async function readOnly(deviceId: string): Promise<ReceivedEventData> {
  const [event] = await readPartition(opened().endpoint.partitionFor(deviceId), 1);
  if (event === undefined) throw new Error('no event');
  return event;
}

/** `user-id` is binary on the wire; the SDK hands it over as an index → byte object. */
function userIdText(systemProperties: Record<string, unknown> | undefined): string {
  const userId = systemProperties?.['userId'];
  if (typeof userId !== 'object' || userId === null) throw new Error('userId missing');
  return Buffer.from(Object.values(userId as Record<string, number>)).toString('utf8');
}

function expectCommonNotificationFields(
  event: ReceivedEventData,
  deviceId: string,
  moduleId: string | undefined,
  messageSource: string,
): void {
  expect(event.contentType).toBe('application/json');
  expect(event.correlationId).toMatch(/^[0-9a-f]{10,}$/);
  expect(event.sequenceNumber).toBe(0);
  expect(event.offset).toBe('0');
  expect(Math.abs(event.enqueuedTimeUtc.getTime() - Date.now())).toBeLessThan(5000);
  expect(event.getRawAmqpMessage().bodyType).toBe('data');
  const systemProperties = event.systemProperties ?? {};
  expect(userIdText(systemProperties)).toBe(HUB);
  const { userId: _userId, ...rest } = systemProperties;
  expect(rest).toEqual({
    'iothub-connection-device-id': deviceId,
    ...(moduleId === undefined ? {} : { 'iothub-connection-module-id': moduleId }),
    'iothub-enqueuedtime': expect.any(Number) as unknown,
    'iothub-message-source': messageSource,
    correlationId: event.correlationId,
    contentType: 'application/json',
    contentEncoding: 'utf-8',
  });
  expect(Math.abs(Number(systemProperties['iothub-enqueuedtime']) - event.enqueuedTimeUtc.getTime())).toBeLessThan(1000);
}

describe('operationTimestamp', () => {
  test('has exactly 7 fractional digits, milliseconds padded with zeros', () => {
    expect(formatOperationTimestamp(new Date('2022-05-27T18:49:38.490Z'))).toBe('2022-05-27T18:49:38.4900000Z');
    expect(formatOperationTimestamp(new Date('2022-05-27T18:49:38.007Z'))).toBe('2022-05-27T18:49:38.0070000Z');
  });
});

describe('lifecycle notifications', () => {
  beforeEach(() => open());

  test('module created: module id in properties, annotations and body (reference §1.4)', async () => {
    const { endpoint } = opened();
    const body = {
      deviceId: 'contoso-device-2',
      moduleId: 'module-1',
      etag: 'AAAAAAAAAAE=',
      version: 2,
      properties: INITIAL_TWIN_PROPERTIES,
    };
    endpoint.publishChange({
      kind: 'lifecycle',
      opType: 'createDeviceIdentity',
      deviceId: 'contoso-device-2',
      moduleId: 'module-1',
      body,
      operationTime: new Date('2022-05-27T18:49:38.490Z'),
    });

    const event = await readOnly('contoso-device-2');

    expect(event.body).toEqual(body);
    expect(event.properties).toEqual({
      hubName: HUB,
      deviceId: 'contoso-device-2',
      operationTimestamp: '2022-05-27T18:49:38.4900000Z',
      moduleId: 'module-1',
      opType: 'createDeviceIdentity',
      'iothub-message-schema': 'deviceLifecycleNotification',
    });
    expectCommonNotificationFields(event, 'contoso-device-2', 'module-1', 'deviceLifecycleEvents');
  });

  test('device created: no moduleId anywhere', async () => {
    const { endpoint } = opened();
    const body = { deviceId: 'd1', etag: 'AAAAAAAAAAE=', version: 2, properties: INITIAL_TWIN_PROPERTIES };
    endpoint.publishChange({
      kind: 'lifecycle',
      opType: 'createDeviceIdentity',
      deviceId: 'd1',
      body,
      operationTime: new Date('2024-01-02T03:04:05.678Z'),
    });

    const event = await readOnly('d1');

    expect(event.body).toEqual(body);
    expect(event.properties).toEqual({
      hubName: HUB,
      deviceId: 'd1',
      operationTimestamp: '2024-01-02T03:04:05.6780000Z',
      opType: 'createDeviceIdentity',
      'iothub-message-schema': 'deviceLifecycleNotification',
    });
    expectCommonNotificationFields(event, 'd1', undefined, 'deviceLifecycleEvents');
  });

  test('device deleted', async () => {
    const { endpoint } = opened();
    const body = { deviceId: 'd1', etag: 'AAAAAAAAAAM=', version: 5, tags: { site: 'north' }, properties: INITIAL_TWIN_PROPERTIES };
    endpoint.publishChange({ kind: 'lifecycle', opType: 'deleteDeviceIdentity', deviceId: 'd1', body, operationTime: new Date() });

    const event = await readOnly('d1');

    expect(event.body).toEqual(body);
    expect(event.properties?.['opType']).toBe('deleteDeviceIdentity');
    expect(event.properties?.['iothub-message-schema']).toBe('deviceLifecycleNotification');
    expectCommonNotificationFields(event, 'd1', undefined, 'deviceLifecycleEvents');
  });
});

describe('twin change notifications', () => {
  beforeEach(() => open());

  test('module twin desired + tags update (reference §2.2)', async () => {
    const { endpoint } = opened();
    const body = {
      version: 7,
      tags: { tag1: 'new value' },
      properties: {
        desired: {
          property1: 'new value',
          $metadata: {
            $lastUpdated: '2022-06-01T22:27:50.2612586Z',
            $lastUpdatedVersion: 6,
            property1: { $lastUpdated: '2022-06-01T22:27:50.2612586Z', $lastUpdatedVersion: 6 },
          },
          $version: 6,
        },
      },
    };
    endpoint.publishChange({
      kind: 'twinChange',
      opType: 'updateTwin',
      deviceId: 'contoso-device-3',
      moduleId: 'module-1',
      body,
      operationTime: new Date('2022-06-01T22:27:50.261Z'),
    });

    const event = await readOnly('contoso-device-3');

    expect(event.body).toEqual(body);
    expect(event.properties).toEqual({
      hubName: HUB,
      deviceId: 'contoso-device-3',
      operationTimestamp: '2022-06-01T22:27:50.2610000Z',
      moduleId: 'module-1',
      opType: 'updateTwin',
      'iothub-message-schema': 'twinChangeNotification',
    });
    expectCommonNotificationFields(event, 'contoso-device-3', 'module-1', 'twinChangeEvents');
  });

  test('reported update carries only the patch (reference §2.3)', async () => {
    const { endpoint } = opened();
    const body = {
      version: 10,
      properties: {
        reported: {
          color: 'Blue',
          $metadata: { $lastUpdated: '2021-02-13T17:56:23.2704925Z', color: { $lastUpdated: '2021-02-13T17:56:23.2704925Z' } },
          $version: 7,
        },
      },
    };
    endpoint.publishChange({
      kind: 'twinChange',
      opType: 'updateTwin',
      deviceId: 'd7',
      moduleId: 'DefenderIotMicroAgent',
      body,
      operationTime: new Date(),
    });

    const event = await readOnly('d7');

    expect(event.body).toEqual(body);
    expect(event.properties?.['moduleId']).toBe('DefenderIotMicroAgent');
    expect(event.properties?.['opType']).toBe('updateTwin');
    expectCommonNotificationFields(event, 'd7', 'DefenderIotMicroAgent', 'twinChangeEvents');
  });

  test('replaceTwin carries the whole twin', async () => {
    const { endpoint } = opened();
    const body = { deviceId: 'd8', etag: 'AAAAAAAAAAk=', version: 9, tags: { a: 1 }, properties: INITIAL_TWIN_PROPERTIES };
    endpoint.publishChange({ kind: 'twinChange', opType: 'replaceTwin', deviceId: 'd8', body, operationTime: new Date() });

    const event = await readOnly('d8');

    expect(event.body).toEqual(body);
    expect(event.properties?.['opType']).toBe('replaceTwin');
    expect(event.properties?.['iothub-message-schema']).toBe('twinChangeNotification');
    expect(event.properties).not.toHaveProperty('moduleId');
    expectCommonNotificationFields(event, 'd8', undefined, 'twinChangeEvents');
  });
});

describe('connection state notifications and routing', () => {
  const connected: HubChange = {
    kind: 'connectionState',
    opType: 'deviceConnected',
    deviceId: 'd9',
    sequenceNumber: '000000000000000001D8B3C0BA4B8D2D',
    operationTime: new Date('2025-03-04T05:06:07.089Z'),
  };

  test('emitted with the hex sequence number body when the source is routed', async () => {
    const { endpoint } = await open({ routes: [...DEFAULT_ROUTES, 'DeviceConnectionStateEvents'] });
    endpoint.publishChange(connected);

    const event = await readOnly('d9');

    expect(event.body).toEqual({ sequenceNumber: '000000000000000001D8B3C0BA4B8D2D' });
    expect(event.properties).toEqual({
      hubName: HUB,
      deviceId: 'd9',
      operationTimestamp: '2025-03-04T05:06:07.0890000Z',
      opType: 'deviceConnected',
      'iothub-message-schema': 'deviceConnectionStateNotification',
    });
    expectCommonNotificationFields(event, 'd9', undefined, 'deviceConnectionStateEvents');
  });

  test('sources that are not routed never reach the endpoint', async () => {
    const { endpoint, consumer } = await open({ routes: ['TwinChangeEvents'] });
    endpoint.publishChange(connected);
    endpoint.publishChange({
      kind: 'lifecycle',
      opType: 'createDeviceIdentity',
      deviceId: 'd9',
      body: { deviceId: 'd9', etag: 'x', version: 1 },
      operationTime: new Date(),
    });
    endpoint.injectTelemetry('d9', { temperature: 1 });
    endpoint.publishChange({ kind: 'twinChange', opType: 'updateTwin', deviceId: 'd9', body: { version: 2 }, operationTime: new Date() });

    const [only] = await readPartition(endpoint.partitionFor('d9'), 1);

    expect(only?.properties?.['iothub-message-schema']).toBe('twinChangeNotification');
    expect(endpoint.stats.published).toBe(1);
    expect((await consumer.getPartitionProperties(endpoint.partitionFor('d9'))).lastEnqueuedSequenceNumber).toBe(0);
  });
});

describe('telemetry', () => {
  beforeEach(() => open());

  test('a mixed stream of JSON, non-JSON text and binary bodies arrives intact and in order', async () => {
    const { endpoint } = opened();
    const binary = Buffer.from([0x00, 0xff, 0x10, 0x7b]);
    endpoint.injectTelemetry(
      'sensor-1',
      { temperature: 21.5 },
      { contentType: 'application/json', contentEncoding: 'utf-8', properties: { alert: true, level: 3 } },
    );
    endpoint.injectTelemetry('sensor-1', 'plain text, not json');
    endpoint.injectTelemetry('sensor-1', binary, { moduleId: 'camera', contentType: 'application/octet-stream' });

    const [json, text, bytes] = await readPartition(endpoint.partitionFor('sensor-1'), 3);

    expect(json?.body).toEqual({ temperature: 21.5 });
    expect(json?.properties).toEqual({ alert: true, level: 3 });
    expect(json?.contentType).toBe('application/json');
    expect(json?.systemProperties).toEqual({
      'iothub-connection-device-id': 'sensor-1',
      'iothub-connection-auth-method': '{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}',
      'iothub-connection-auth-generation-id': expect.stringMatching(/^\d{18}$/) as unknown,
      'iothub-enqueuedtime': expect.any(Number) as unknown,
      'iothub-message-source': 'Telemetry',
      contentType: 'application/json',
      contentEncoding: 'utf-8',
    });
    expect(Buffer.isBuffer(text?.body)).toBe(true);
    expect((text?.body as Buffer).toString('utf8')).toBe('plain text, not json');
    expect(text?.contentType).toBeUndefined();
    expect(bytes?.body).toEqual(binary);
    expect(bytes?.systemProperties?.['iothub-connection-module-id']).toBe('camera');
    expect(JSON.parse(String(bytes?.systemProperties?.['iothub-connection-auth-method']))).toMatchObject({ scope: 'module' });
    expect([json, text, bytes].map((event) => event?.sequenceNumber)).toEqual([0, 1, 2]);
  });

  test('is dropped when DeviceMessages is not routed', async () => {
    const { endpoint, consumer } = await open({ routes: ['TwinChangeEvents'] });
    endpoint.injectTelemetry('sensor-1', 'ignored');
    expect(endpoint.stats.published).toBe(0);
    expect((await consumer.getPartitionProperties(endpoint.partitionFor('sensor-1'))).isEmpty).toBe(true);
  });
});
