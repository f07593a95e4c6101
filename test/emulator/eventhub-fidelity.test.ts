/**
 * Where the built-in endpoint must answer as Event Hubs and IoT Hub do, seen through `@azure/event-hubs` 6 and raw
 * AMQP: partition ids out of range, last-enqueued event properties, the read-only endpoint, unserved nodes.
 */
import { EventHubConsumerClient, EventHubProducerClient, earliestEventPosition } from '@azure/event-hubs';
import type { LastEnqueuedEventProperties, PartitionContext, ReceivedEventData } from '@azure/event-hubs';
import { connect, type Connection, type EventContext } from 'rhea';
import { EventHubEndpoint } from '../../emulator/eventhub/endpoint';
import type { EventHubEndpointOptions } from '../../emulator/eventhub/endpoint';
import { DEFAULT_ROUTES } from '../../emulator/hub-events';

const FAST_RETRY = { maxRetries: 0, retryDelayInMs: 20, maxRetryDelayInMs: 50, timeoutInMs: 3000 };
const KEY_NAME = 'iothubowner';
const KEY = 'c2VjcmV0LWtleS1mb3ItdGVzdHM=';
const EVENT_HUB = 'fidelity-hub-ehcompat';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startEndpoint(overrides: Partial<EventHubEndpointOptions> = {}): Promise<EventHubEndpoint> {
  const endpoint = new EventHubEndpoint({
    hubName: 'fidelity-hub',
    eventHubName: EVENT_HUB,
    partitionCount: 4,
    consumerGroups: [],
    sharedAccessKeyName: KEY_NAME,
    sharedAccessKey: KEY,
    routes: DEFAULT_ROUTES,
    ...overrides,
  });
  await endpoint.start();
  cleanups.push(() => endpoint.stop());
  return endpoint;
}

function consumerOf(endpoint: EventHubEndpoint): EventHubConsumerClient {
  const client = new EventHubConsumerClient('$Default', endpoint.connectionString(), { retryOptions: FAST_RETRY });
  cleanups.push(() => client.close());
  return client;
}

function twinChange(endpoint: EventHubEndpoint, deviceId: string, version: number): void {
  endpoint.publishChange({ kind: 'twinChange', opType: 'updateTwin', deviceId, body: { version }, operationTime: new Date() });
}

function nameOf(error: unknown): unknown {
  if (error instanceof AggregateError) return nameOf(error.errors[error.errors.length - 1]);
  return typeof error === 'object' && error !== null ? ((error as { code?: unknown }).code ?? (error as Error).name) : undefined;
}

async function failure(promise: Promise<unknown>): Promise<{ code: unknown; message: string }> {
  try {
    await promise;
  } catch (error) {
    return { code: nameOf(error), message: error instanceof Error ? error.message : String(error) };
  }
  throw new Error('expected a rejection');
}

describe('partition ids out of range', () => {
  test('getPartitionProperties answers ArgumentOutOfRangeError naming the valid range', async () => {
    const consumer = consumerOf(await startEndpoint());
    const answer = await failure(consumer.getPartitionProperties('7'));
    expect(answer.code).toBe('ArgumentOutOfRangeError');
    expect(answer.message).toContain('between 0 and 3');
    expect((await failure(consumer.getPartitionProperties('x'))).code).toBe('ArgumentOutOfRangeError');
  });

  test('a receiver on a partition that does not exist gets ArgumentOutOfRangeError', async () => {
    const consumer = consumerOf(await startEndpoint());
    const error = await new Promise<unknown>((resolve) => {
      const subscription = consumer.subscribe(
        '9',
        { processEvents: () => Promise.resolve(), processError: (err: Error) => (resolve(err), Promise.resolve()) },
        { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
      );
      cleanups.push(() => subscription.close());
    });
    expect(nameOf(error)).toBe('ArgumentOutOfRangeError');
  });
});

describe('last-enqueued event properties', () => {
  test('a receiver that tracks them sees the partition tail on every batch; one that does not, none', async () => {
    const endpoint = await startEndpoint();
    const partitionId = endpoint.partitionFor('tracked');
    for (let version = 1; version <= 3; version += 1) twinChange(endpoint, 'tracked', version);
    const tail = await consumerOf(endpoint).getPartitionProperties(partitionId);

    const receive = (track: boolean) =>
      new Promise<{ events: ReceivedEventData[]; last: LastEnqueuedEventProperties }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no events')), 5000);
        const subscription = consumerOf(endpoint).subscribe(
          partitionId,
          {
            processEvents: (events: ReceivedEventData[], context: PartitionContext) => {
              if (events.length > 0) {
                clearTimeout(timer);
                resolve({ events, last: { ...context.lastEnqueuedEventProperties } });
              }
              return Promise.resolve();
            },
            processError: (err: Error) => (reject(err), Promise.resolve()),
          },
          { startPosition: earliestEventPosition, maxBatchSize: 1, maxWaitTimeInSeconds: 1, trackLastEnqueuedEventProperties: track },
        );
        cleanups.push(() => subscription.close());
      });

    const before = Date.now();
    const tracked = await receive(true);
    expect(tracked.events[0]?.sequenceNumber).toBe(0);
    expect(tracked.last.sequenceNumber).toBe(tail.lastEnqueuedSequenceNumber);
    expect(tracked.last.offset).toBe(tail.lastEnqueuedOffset);
    expect(tracked.last.enqueuedOn?.getTime()).toBe(tail.lastEnqueuedOnUtc.getTime());
    expect(tracked.last.retrievedOn?.getTime()).toBeGreaterThanOrEqual(before - 1000);
    // The annotations must not disturb the event itself.
    expect(tracked.events[0]?.body).toEqual({ version: 1 });

    const untracked = await receive(false);
    expect(untracked.last.sequenceNumber).toBeUndefined();
    expect(untracked.events[0]?.body).toEqual({ version: 1 });
  });
});

describe('the built-in endpoint is read-only', () => {
  test("sending is refused as IoT Hub refuses it: 'Send' claims required", async () => {
    const endpoint = await startEndpoint();
    const producer = new EventHubProducerClient(endpoint.connectionString(), { retryOptions: FAST_RETRY });
    cleanups.push(() => producer.close());
    const answer = await failure(producer.sendBatch([{ body: 'forged' }]));
    expect(answer.code).toBe('UnauthorizedError');
    expect(answer.message).toContain("'Send' claim(s) are required");
    expect(endpoint.stats.published).toBe(0);
  });

  test('the test switch accepts produced events', async () => {
    const endpoint = await startEndpoint({ acceptProducedEvents: true });
    const producer = new EventHubProducerClient(endpoint.connectionString(), { retryOptions: FAST_RETRY });
    cleanups.push(() => producer.close());
    await producer.sendBatch([{ body: 'allowed' }]);
    expect(endpoint.stats.published).toBe(1);
  });
});

describe('what the endpoint does not serve answers clearly', () => {
  async function rawConnection(endpoint: EventHubEndpoint): Promise<Connection> {
    const connection = connect({ host: '127.0.0.1', port: endpoint.port, reconnect: false });
    cleanups.push(() => void connection.close());
    await new Promise<void>((resolve) => connection.once('connection_open', () => resolve()));
    return connection;
  }

  function linkError(connection: Connection, open: () => void): Promise<{ condition: string; description: string }> {
    return new Promise((resolve) => {
      const onError = (context: EventContext): void => {
        const error = (context.receiver ?? context.sender)?.error as { condition: string; description: string };
        resolve(error);
      };
      connection.once('receiver_error', onError);
      connection.once('sender_error', onError);
      open();
    });
  }

  test.each(['/messages/devicebound', '/messages/serviceBound/feedback', '$iothub/websocket'])(
    'attaching to %s is amqp:not-implemented naming the node',
    async (address) => {
      const connection = await rawConnection(await startEndpoint());
      const asReceiver = await linkError(connection, () => connection.open_receiver({ source: { address } }));
      expect(asReceiver.condition).toBe('amqp:not-implemented');
      expect(asReceiver.description).toContain(`'${address}' is not supported by the IoT Hub emulator`);
      const asSender = await linkError(connection, () => connection.open_sender({ target: { address } }));
      expect(asSender.condition).toBe('amqp:not-implemented');
    },
  );

  test('an unknown entity is still amqp:not-found, as on Event Hubs', async () => {
    const connection = await rawConnection(await startEndpoint({ verifyTokens: false }));
    const error = await linkError(connection, () =>
      connection.open_receiver({ source: { address: 'other-hub/ConsumerGroups/$Default/Partitions/0' } }),
    );
    expect(error.condition).toBe('amqp:not-found');
  });
});

describe('receiver ownership by epoch (owner level)', () => {
  /** Subscribes to one partition; resolves `errors` with each processError and `events` with what arrived. */
  function reader(endpoint: EventHubEndpoint, partitionId: string, ownerLevel: number | undefined) {
    const errors: unknown[] = [];
    const events: ReceivedEventData[] = [];
    const subscription = consumerOf(endpoint).subscribe(
      partitionId,
      {
        processEvents: (batch: ReceivedEventData[]) => (events.push(...batch), Promise.resolve()),
        processError: (err: Error) => (errors.push(err), Promise.resolve()),
      },
      { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1, ...(ownerLevel === undefined ? {} : { ownerLevel }) },
    );
    cleanups.push(() => subscription.close());
    return { errors, events };
  }

  async function until(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 8000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  test('a receiver with a higher or equal epoch displaces the current one (ReceiverDisconnectedError)', async () => {
    const endpoint = await startEndpoint();
    const partitionId = endpoint.partitionFor('owned');
    twinChange(endpoint, 'owned', 1);
    const first = reader(endpoint, partitionId, 0);
    await until(() => first.events.length === 1, 'the first reader');
    const second = reader(endpoint, partitionId, 1);
    await until(() => second.events.length === 1, 'the second reader');
    await until(() => first.errors.length > 0, 'the displacement');
    expect(nameOf(first.errors[0])).toBe('ReceiverDisconnectedError');
    expect(second.errors).toEqual([]);
  });

  test('a lower epoch, or no epoch, next to an epoch receiver is refused', async () => {
    const endpoint = await startEndpoint();
    const partitionId = endpoint.partitionFor('owned');
    twinChange(endpoint, 'owned', 1);
    const owner = reader(endpoint, partitionId, 5);
    await until(() => owner.events.length === 1, 'the owner');
    const lower = reader(endpoint, partitionId, 4);
    const plain = reader(endpoint, partitionId, undefined);
    await until(() => lower.errors.length > 0 && plain.errors.length > 0, 'both refusals');
    expect(nameOf(lower.errors[0])).toBe('ReceiverDisconnectedError');
    expect(nameOf(plain.errors[0])).toBe('ReceiverDisconnectedError');
    expect(owner.errors).toEqual([]);
  });

  test('other consumer groups and partitions are independent; a sixth non-epoch receiver is QuotaExceededError', async () => {
    const endpoint = await startEndpoint();
    const partitionId = endpoint.partitionFor('crowded');
    twinChange(endpoint, 'crowded', 1);
    const five = Array.from({ length: 5 }, () => reader(endpoint, partitionId, undefined));
    await until(() => five.every((r) => r.events.length === 1), 'five readers');
    const otherPartition = reader(endpoint, String((Number(partitionId) + 1) % 4), undefined);
    const sixth = reader(endpoint, partitionId, undefined);
    await until(() => sixth.errors.length > 0, 'the sixth refusal');
    expect(nameOf(sixth.errors[0])).toBe('QuotaExceededError');
    expect(otherPartition.errors).toEqual([]);
    expect(five.flatMap((r) => r.errors)).toEqual([]);
  });
});
