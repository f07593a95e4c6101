/**
 * The emulated built-in endpoint as the real `@azure/event-hubs` 6 clients see it: management reads,
 * partitioning, start positions, consumer groups, SAS checks, flow control, connection loss, retention.
 */
import { createHmac } from 'node:crypto';
import { EventHubConsumerClient, EventHubProducerClient, earliestEventPosition, latestEventPosition } from '@azure/event-hubs';
import type { EventPosition, PartitionContext, ReceivedEventData, SubscribeOptions, Subscription } from '@azure/event-hubs';
import { EventHubEndpoint } from '../../emulator/eventhub/endpoint';
import type { EventHubEndpointOptions } from '../../emulator/eventhub/endpoint';
import { DEFAULT_ROUTES } from '../../emulator/hub-events';

const FAST_RETRY = { maxRetries: 1, retryDelayInMs: 20, maxRetryDelayInMs: 50, timeoutInMs: 3000 };
const KEY_NAME = 'iothubowner';
const KEY = 'c2VjcmV0LWtleS1mb3ItdGVzdHM=';

const openEndpoints: EventHubEndpoint[] = [];
const openClients: { close(): Promise<void> }[] = [];

afterEach(async () => {
  for (const client of openClients.splice(0)) await client.close();
  for (const endpoint of openEndpoints.splice(0)) await endpoint.stop();
});

async function startEndpoint(overrides: Partial<EventHubEndpointOptions> = {}): Promise<EventHubEndpoint> {
  const endpoint = new EventHubEndpoint({
    hubName: 'twinguard-hub',
    eventHubName: 'twinguard-hub-ehcompat',
    partitionCount: 4,
    consumerGroups: [],
    sharedAccessKeyName: KEY_NAME,
    sharedAccessKey: KEY,
    routes: DEFAULT_ROUTES,
    // These tests produce events to exercise partitioning; the built-in endpoint refuses that by default.
    acceptProducedEvents: true,
    ...overrides,
  });
  openEndpoints.push(endpoint);
  await endpoint.start();
  return endpoint;
}

function consumerOf(connectionString: string, consumerGroup = '$Default'): EventHubConsumerClient {
  const client = new EventHubConsumerClient(consumerGroup, connectionString, { retryOptions: FAST_RETRY });
  openClients.push(client);
  return client;
}

function producerOf(connectionString: string): EventHubProducerClient {
  const client = new EventHubProducerClient(connectionString, { retryOptions: FAST_RETRY });
  openClients.push(client);
  return client;
}

function twinChange(endpoint: EventHubEndpoint, deviceId: string, version: number, moduleId?: string): void {
  endpoint.publishChange({
    kind: 'twinChange',
    opType: 'updateTwin',
    deviceId,
    ...(moduleId === undefined ? {} : { moduleId }),
    body: { version },
    operationTime: new Date(),
  });
}

interface CollectOptions extends SubscribeOptions {
  partitionId?: string;
  timeoutMs?: number;
  /** Called for each batch before it is counted; lets a test block or inspect. */
  onBatch?: (events: ReceivedEventData[], partitionId: string) => Promise<void>;
  /** Transient errors (e.g. after a dropped connection) are recorded rather than failing. */
  tolerateErrors?: boolean;
}

/** Subscribes until `count` events arrived; rejects with what was received on timeout. */
async function collect(consumer: EventHubConsumerClient, count: number, options: CollectOptions = {}): Promise<ReceivedEventData[]> {
  const { partitionId, timeoutMs = 5000, onBatch, tolerateErrors = false, ...subscribeOptions } = options;
  const received: ReceivedEventData[] = [];
  let subscription: Subscription | undefined;
  return new Promise<ReceivedEventData[]>((resolve, reject) => {
    const finish = (outcome: () => void): void => {
      clearTimeout(timer);
      void (subscription?.close() ?? Promise.resolve()).then(outcome);
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`received ${received.length} of ${count} events`))), timeoutMs);
    const handlers = {
      processEvents: async (events: ReceivedEventData[], context: PartitionContext) => {
        if (onBatch !== undefined) await onBatch(events, context.partitionId);
        received.push(...events);
        if (received.length >= count) finish(() => resolve(received));
      },
      processError: (error: Error) => {
        if (!tolerateErrors) finish(() => reject(error));
        return Promise.resolve();
      },
    };
    const fullOptions: SubscribeOptions = { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1, ...subscribeOptions };
    subscription =
      partitionId === undefined ? consumer.subscribe(handlers, fullOptions) : consumer.subscribe(partitionId, handlers, fullOptions);
  });
}

function errorCode(error: unknown): unknown {
  if (error instanceof AggregateError) return errorCode(error.errors[error.errors.length - 1]);
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

async function rejectionCode(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return errorCode(error);
  }
  throw new Error('expected a rejection');
}

function versions(events: readonly ReceivedEventData[]): unknown[] {
  return events.map((event) => (event.body as { version?: unknown }).version);
}

describe('$management', () => {
  test('reports the configured partitions and per-partition positions', async () => {
    const endpoint = await startEndpoint({ partitionCount: 3 });
    const consumer = consumerOf(endpoint.connectionString());
    twinChange(endpoint, 'd1', 1);
    twinChange(endpoint, 'd1', 2);

    expect(await consumer.getPartitionIds()).toEqual(['0', '1', '2']);
    expect(await consumer.getEventHubProperties()).toMatchObject({ name: 'twinguard-hub-ehcompat', partitionIds: ['0', '1', '2'] });
    const busy = await consumer.getPartitionProperties(endpoint.partitionFor('d1'));
    const [second] = (await collect(consumer, 2, { partitionId: endpoint.partitionFor('d1') })).slice(1);
    expect(busy).toMatchObject({
      partitionId: endpoint.partitionFor('d1'),
      beginningSequenceNumber: 0,
      lastEnqueuedSequenceNumber: 1,
      isEmpty: false,
      lastEnqueuedOffset: second?.offset,
    });
    const idle = ['0', '1', '2'].find((id) => id !== endpoint.partitionFor('d1')) ?? '';
    expect(await consumer.getPartitionProperties(idle)).toMatchObject({
      isEmpty: true,
      lastEnqueuedSequenceNumber: -1,
      lastEnqueuedOffset: '-1',
    });
  });

  test('an unknown event hub name is MessagingEntityNotFoundError', async () => {
    const endpoint = await startEndpoint();
    const consumer = consumerOf(endpoint.connectionString().replace('EntityPath=twinguard-hub-ehcompat', 'EntityPath=other'));
    expect(await rejectionCode(consumer.getPartitionIds())).toBe('MessagingEntityNotFoundError');
  });
});

describe('$cbs', () => {
  test('a wrong key is rejected with UnauthorizedError', async () => {
    const endpoint = await startEndpoint();
    const consumer = consumerOf(endpoint.connectionString().replace(KEY, 'd3Jvbmcta2V5'));
    expect(await rejectionCode(consumer.getPartitionIds())).toBe('UnauthorizedError');
  });

  test('an expired token is rejected with UnauthorizedError, a fresh one accepted', async () => {
    const endpoint = await startEndpoint();
    const audience = `sb://127.0.0.1:${endpoint.port}/twinguard-hub-ehcompat`;
    const sign = (expiry: number): string => {
      const sig = createHmac('sha256', KEY)
        .update(`${encodeURIComponent(audience)}\n${expiry}`)
        .digest('base64');
      return `SharedAccessSignature sr=${encodeURIComponent(audience)}&sig=${encodeURIComponent(sig)}&se=${expiry}&skn=${KEY_NAME}`;
    };
    const withToken = (token: string): string =>
      `Endpoint=sb://127.0.0.1:${endpoint.port}/;SharedAccessSignature=${token};EntityPath=twinguard-hub-ehcompat;UseDevelopmentEmulator=true`;
    const nowSeconds = Math.floor(Date.now() / 1000);

    expect(await rejectionCode(consumerOf(withToken(sign(nowSeconds - 60))).getPartitionIds())).toBe('UnauthorizedError');
    expect(await consumerOf(withToken(sign(nowSeconds + 600))).getPartitionIds()).toHaveLength(4);
  });
});

describe('partitioning', () => {
  test('partitionFor is the Event Hubs partition-key hash the SDK itself uses', async () => {
    const endpoint = await startEndpoint({ partitionCount: 7 });
    const mapperPath = require.resolve('@azure/event-hubs').replace(/index\.js$/, 'impl/partitionKeyToIdMapper.js');
    // Internal module of the SDK (used by its buffered producer): the reference this hash must agree with.
    const { mapPartitionKeyToId } = (await import(mapperPath)) as { mapPartitionKeyToId: (key: string, count: number) => number };
    const keys = Array.from({ length: 500 }, (_unused, index) => `device-${index}-${'x'.repeat(index % 29)}`);
    for (const key of keys) expect(endpoint.partitionFor(key)).toBe(String(mapPartitionKeyToId(key, 7)));
    expect(new Set(keys.map((key) => endpoint.partitionFor(key))).size).toBe(7);
  });

  test("a device's notifications (device and module twins) all land on one partition, in order", async () => {
    const endpoint = await startEndpoint();
    const devices = Array.from({ length: 24 }, (_unused, index) => `edge-${index}`);
    for (let version = 1; version <= 5; version += 1) {
      for (const deviceId of devices) twinChange(endpoint, deviceId, version, version % 2 === 0 ? 'DefenderIotMicroAgent' : undefined);
    }

    const arrivedOn = new Map<ReceivedEventData, string>();
    const events = await collect(consumerOf(endpoint.connectionString()), devices.length * 5, {
      onBatch: (batch, partitionId) => {
        batch.forEach((event) => arrivedOn.set(event, partitionId));
        return Promise.resolve();
      },
    });

    const partitionsUsed = new Set<string>();
    for (const deviceId of devices) {
      const deviceEvents = events.filter((event) => event.properties?.['deviceId'] === deviceId);
      expect(versions(deviceEvents)).toEqual([1, 2, 3, 4, 5]);
      expect(new Set(deviceEvents.map((event) => arrivedOn.get(event)))).toEqual(new Set([endpoint.partitionFor(deviceId)]));
      partitionsUsed.add(endpoint.partitionFor(deviceId));
    }
    expect(partitionsUsed.size).toBe(4);
  });

  test('producer events go by partitionKey (same hash as devices), by partitionId, or round robin', async () => {
    const endpoint = await startEndpoint();
    const producer = producerOf(endpoint.connectionString());
    const consumer = consumerOf(endpoint.connectionString());
    await producer.sendBatch([{ body: { via: 'key' } }], { partitionKey: 'sensor-42' });
    await producer.sendBatch([{ body: { via: 'id' } }], { partitionId: '2' });
    for (let index = 0; index < 8; index += 1) await producer.sendBatch([{ body: { via: 'roundRobin', index } }]);

    const keyed = await collect(consumer, 1, { partitionId: endpoint.partitionFor('sensor-42') });
    expect(keyed.find((event) => (event.body as { via: string }).via === 'key')?.partitionKey).toBe('sensor-42');
    const partitionTwo = await collect(consumer, 1, { partitionId: '2' });
    expect(partitionTwo.some((event) => (event.body as { via: string }).via === 'id')).toBe(true);
    for (const partitionId of ['0', '1', '2', '3']) {
      expect((await consumer.getPartitionProperties(partitionId)).isEmpty).toBe(false);
    }
    expect(endpoint.stats.published).toBe(10);
  });
});

describe('start positions', () => {
  async function tenEvents(): Promise<{
    endpoint: EventHubEndpoint;
    consumer: EventHubConsumerClient;
    partitionId: string;
    all: ReceivedEventData[];
  }> {
    const endpoint = await startEndpoint();
    for (let version = 0; version < 10; version += 1) twinChange(endpoint, 'd1', version);
    const consumer = consumerOf(endpoint.connectionString());
    const partitionId = endpoint.partitionFor('d1');
    const all = await collect(consumer, 10, { partitionId });
    return { endpoint, consumer, partitionId, all };
  }

  async function versionsFrom(
    consumer: EventHubConsumerClient,
    partitionId: string,
    startPosition: EventPosition,
    expectedCount: number,
  ): Promise<unknown[]> {
    return versions(await collect(consumer, expectedCount, { partitionId, startPosition }));
  }

  test('offsets are cumulative byte positions; > and >= resume exactly after / at a checkpoint', async () => {
    const { consumer, partitionId, all } = await tenEvents();
    expect(all[0]?.offset).toBe('0');
    const offsets = all.map((event) => Number(event.offset));
    expect(offsets.every((offset, index) => index === 0 || offset > (offsets[index - 1] ?? Infinity))).toBe(true);
    const checkpoint = all[3]?.offset ?? '';

    expect(await versionsFrom(consumer, partitionId, { offset: checkpoint }, 6)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(await versionsFrom(consumer, partitionId, { offset: checkpoint, isInclusive: true }, 7)).toEqual([3, 4, 5, 6, 7, 8, 9]);
  });

  test('sequence numbers, exclusive and inclusive', async () => {
    const { consumer, partitionId } = await tenEvents();
    expect(await versionsFrom(consumer, partitionId, { sequenceNumber: 6 }, 3)).toEqual([7, 8, 9]);
    expect(await versionsFrom(consumer, partitionId, { sequenceNumber: 6, isInclusive: true }, 4)).toEqual([6, 7, 8, 9]);
  });

  test('enqueued time starts after the given instant', async () => {
    const endpoint = await startEndpoint();
    twinChange(endpoint, 'd1', 1);
    twinChange(endpoint, 'd1', 2);
    await new Promise((resolve) => setTimeout(resolve, 15));
    twinChange(endpoint, 'd1', 3);
    const consumer = consumerOf(endpoint.connectionString());
    const partitionId = endpoint.partitionFor('d1');
    const [, second] = await collect(consumer, 3, { partitionId });

    expect(await versionsFrom(consumer, partitionId, { enqueuedOn: second?.enqueuedTimeUtc ?? new Date() }, 1)).toEqual([3]);
  });

  test('latest (the default) sees only what is appended after subscribing, pushed without polling delay', async () => {
    const endpoint = await startEndpoint();
    twinChange(endpoint, 'd1', 1);
    const consumer = consumerOf(endpoint.connectionString());
    const partitionId = endpoint.partitionFor('d1');
    const pending = collect(consumer, 1, { partitionId, startPosition: latestEventPosition, maxWaitTimeInSeconds: 30 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const appendedAt = Date.now();
    twinChange(endpoint, 'd1', 2);

    expect(versions(await pending)).toEqual([2]);
    expect(Date.now() - appendedAt).toBeLessThan(500);
  });
});

describe('consumer groups', () => {
  test('an unknown consumer group fails with MessagingEntityNotFoundError', async () => {
    const endpoint = await startEndpoint();
    twinChange(endpoint, 'd1', 1);
    const consumer = consumerOf(endpoint.connectionString(), 'nobody');
    const failure = await collect(consumer, 1, { partitionId: endpoint.partitionFor('d1') }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(errorCode(failure)).toBe('MessagingEntityNotFoundError');
  });

  test('configured and added groups each receive every event, concurrently with $Default', async () => {
    const endpoint = await startEndpoint({ consumerGroups: ['secmod'] });
    endpoint.addConsumerGroup('posture');
    for (let version = 0; version < 20; version += 1) twinChange(endpoint, `d${version}`, version);

    const [fromDefault, fromSecmod, fromPosture] = await Promise.all(
      ['$Default', 'secmod', 'posture'].map((group) => collect(consumerOf(endpoint.connectionString(), group), 20)),
    );

    for (const received of [fromDefault, fromSecmod, fromPosture]) expect(new Set(versions(received ?? [])).size).toBe(20);
  });
});

describe('flow control and faults', () => {
  test('a stalled consumer is not sent more than the credit it granted', async () => {
    const endpoint = await startEndpoint();
    for (let version = 0; version < 300; version += 1) twinChange(endpoint, 'd1', version);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let deliveredWhileStalled = -1;
    const pending = collect(consumerOf(endpoint.connectionString()), 300, {
      partitionId: endpoint.partitionFor('d1'),
      maxBatchSize: 10,
      prefetchCount: 20,
      maxWaitTimeInSeconds: 0.2,
      onBatch: async () => {
        if (deliveredWhileStalled >= 0) return;
        await new Promise((resolve) => setTimeout(resolve, 300));
        deliveredWhileStalled = endpoint.stats.delivered;
        await gate;
      },
    });
    for (const deadline = Date.now() + 10_000; deliveredWhileStalled < 0 && Date.now() < deadline;)
      await new Promise((resolve) => setTimeout(resolve, 10)); // until the stalled batch has counted
    release();

    expect(versions(await pending)).toEqual(Array.from({ length: 300 }, (_unused, index) => index));
    expect(deliveredWhileStalled).toBeGreaterThan(0);
    // prefetchCount is the credit the SDK grants; one more batch of slack for its refill timing.
    expect(deliveredWhileStalled).toBeLessThanOrEqual(30);
  });

  test('after dropConnections a subscribed consumer reconnects and continues without gaps', async () => {
    const endpoint = await startEndpoint();
    const consumer = consumerOf(endpoint.connectionString());
    const devices = Array.from({ length: 16 }, (_unused, index) => `d${index}`);
    for (const deviceId of devices) twinChange(endpoint, deviceId, 1);
    let dropped = false;
    const pending = collect(consumer, devices.length * 2, {
      tolerateErrors: true,
      timeoutMs: 15000,
      onBatch: () => {
        if (dropped) return Promise.resolve();
        dropped = true;
        endpoint.dropConnections();
        for (const deviceId of devices) twinChange(endpoint, deviceId, 2);
        return Promise.resolve();
      },
    });

    const received = await pending;
    const unique = new Set(
      received.map((event) => `${String(event.properties?.['deviceId'])}@${String((event.body as { version: number }).version)}`),
    );
    expect(unique.size).toBe(devices.length * 2);
    expect(dropped).toBe(true);
  });

  test('retention evicts the oldest events and moves the beginning sequence number', async () => {
    const endpoint = await startEndpoint({ retentionPerPartition: 5 });
    for (let version = 0; version < 8; version += 1) twinChange(endpoint, 'd1', version);
    const consumer = consumerOf(endpoint.connectionString());
    const partitionId = endpoint.partitionFor('d1');

    expect(await consumer.getPartitionProperties(partitionId)).toMatchObject({ beginningSequenceNumber: 3, lastEnqueuedSequenceNumber: 7 });
    expect(versions(await collect(consumer, 5, { partitionId }))).toEqual([3, 4, 5, 6, 7]);
  });
});
