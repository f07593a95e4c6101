/**
 * The standalone host's trigger runtimes over real protocols: HTTP routes with function keys, NCRONTAB
 * timers, Storage Queue polling on in-process Azurite, and the Event Hubs consumer's drain on stop
 * against the IoT Hub emulator's AMQP endpoint.
 */
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import type { HttpRequest, InvocationContext, Timer } from '@azure/functions';
import { EventHubConsumerClient, type Subscription } from '@azure/event-hubs';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { IotHubEmulator } from '../../emulator';
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../../host/embedded-azurite';
import { EventConsumer } from '../../host/event-consumer';
import { QueuePoller } from '../../host/queue-poller';
import { readStandaloneSettings, StandaloneHost } from '../../host/standalone-host';
import type { FunctionRegistration } from '../../shared/triggers/register-functions';
import { silentLogger } from '../../shared/logger';
import { eventually } from '../../testing/eventually';

const KEY = 'test-function-key-0123456789';
const CONSUMER_GROUP = 'twinguard';

/** A promise with its resolver, to hold a handler mid-run. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

let azurite: EmbeddedAzurite;
let hub: IotHubEmulator;

beforeAll(async () => {
  azurite = await startEmbeddedAzurite({ blob: true, queue: true });
  hub = await IotHubEmulator.start({ consumerGroups: ['$Default', CONSUMER_GROUP], partitionCount: 2 });
});

afterAll(async () => {
  await hub?.stop();
  await azurite?.stop();
});

describe('HTTP routes', () => {
  let host: StandaloneHost;
  let api: string;
  const seen: { functionName: string; params: Record<string, string>; query: Record<string, string> }[] = [];

  const echo = (request: HttpRequest, context: InvocationContext) => {
    const entry = { functionName: context.functionName, params: { ...request.params }, query: Object.fromEntries(request.query.entries()) };
    seen.push(entry);
    urls.push(request.url);
    return Promise.resolve({ status: 200, jsonBody: entry });
  };
  const urls: string[] = [];

  beforeAll(async () => {
    const registrations: FunctionRegistration[] = [
      {
        kind: 'http',
        name: 'device-things',
        options: { methods: ['GET'], authLevel: 'function', route: 'devices/{deviceId}/things', handler: echo },
      },
      { kind: 'http', name: 'start-things', options: { methods: ['POST'], authLevel: 'function', route: 'things', handler: echo } },
      { kind: 'http', name: 'health', options: { methods: ['GET'], authLevel: 'anonymous', route: 'health', handler: echo } },
      {
        kind: 'http',
        name: 'broken',
        options: {
          methods: ['GET'],
          authLevel: 'function',
          route: 'broken',
          handler: () => Promise.reject(new Error('internal detail at Foo.ts:12')),
        },
      },
    ];
    host = new StandaloneHost({
      env: {},
      settings: readStandaloneSettings({ STANDALONE_HTTP_PORT: '0', STANDALONE_FUNCTION_KEY: KEY }),
      logger: silentLogger,
      registrations,
    });
    await host.start();
    api = `${host.httpUrl}/api`;
  });

  afterAll(async () => {
    await host?.stop();
  });

  beforeEach(() => {
    seen.length = 0;
    urls.length = 0;
  });

  /** The API's error shape: JSON `{ error, message }`, the security headers, nothing else. */
  async function expectError(response: Response, status: number, error: string): Promise<void> {
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['error', 'message']);
    expect(body['error']).toBe(error);
  }

  it('answers 401 JSON to a function route without a key or with a wrong one, and never runs the handler', async () => {
    await expectError(await fetch(`${api}/devices/d1/things`), 401, 'Unauthorized');
    await expectError(await fetch(`${api}/devices/d1/things`, { headers: { 'x-functions-key': `${KEY}x` } }), 401, 'Unauthorized');
    await expectError(await fetch(`${api}/devices/d1/things?code=nope`), 401, 'Unauthorized');
    expect(seen).toEqual([]);
  });

  it('runs the handler with the key as x-functions-key or as ?code= (which the handler does not see)', async () => {
    const byHeader = await fetch(`${api}/devices/d1/things?x=1`, { headers: { 'x-functions-key': KEY } });
    expect(byHeader.status).toBe(200);
    expect(await byHeader.json()).toEqual({ functionName: 'device-things', params: { deviceId: 'd1' }, query: { x: '1' } });
    const byCode = await fetch(`${api}/devices/d2/things?code=${encodeURIComponent(KEY)}&y=2`);
    expect(byCode.status).toBe(200);
    expect(await byCode.json()).toEqual({ functionName: 'device-things', params: { deviceId: 'd2' }, query: { y: '2' } });
    expect(urls.at(-1)).not.toContain(KEY); // nor in the URL the handler sees (and might log)
    expect(byCode.headers.get('x-content-type-options')).toBe('nosniff'); // on every answer, not only errors
    expect((await fetch(`${api}/health`)).status).toBe(200);
  });

  it('answers 404 JSON to unknown routes and 405 JSON with Allow to a known route with the wrong method', async () => {
    const headers = { 'x-functions-key': KEY };
    await expectError(await fetch(`${api}/nothing-here`, { headers }), 404, 'NotFound');
    await expectError(await fetch(`${api}/devices/d1/things/extra`, { headers }), 404, 'NotFound');
    await expectError(await fetch(`${host.httpUrl}/devices/d1/things`, { headers }), 404, 'NotFound'); // no api/ prefix
    const wrongMethod = await fetch(`${api}/things`, { headers });
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    await expectError(wrongMethod, 405, 'MethodNotAllowed');
    const deleted = await fetch(`${api}/devices/d1/things`, { method: 'DELETE', headers });
    expect(deleted.headers.get('allow')).toBe('GET');
    await expectError(deleted, 405, 'MethodNotAllowed');
    expect((await fetch(`${api}/things`, { method: 'POST', headers, body: '{}' })).status).toBe(200);
    expect(seen.map((s) => s.functionName)).toEqual(['start-things']);
  });

  it('answers a handler that throws outside the functions wrapper with a generic 500 JSON and its requestId', async () => {
    const response = await fetch(`${api}/broken`, { headers: { 'x-functions-key': KEY } });
    expect(response.status).toBe(500);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await response.json()).toEqual({ error: 'InternalError', message: 'internal error', requestId: expect.any(String) as string });
  });

  it.each([
    ["line-3#cell?7%'b", `line-3%23cell%3F7%25'b`],
    ["quote'd", 'quote%27d'],
    ['percent-literal-%41', 'percent-literal-%2541'],
    ['space and ü', 'space%20and%20%C3%BC'],
  ])('hands the handler device ID %j decoded once from %s', async (deviceId, encoded) => {
    const response = await fetch(`${api}/devices/${encoded}/things`, { headers: { 'x-functions-key': KEY } });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { params: { deviceId: string } }).params.deviceId).toBe(deviceId);
    expect(encodeURIComponent(deviceId).replace(/'/g, '%27')).toBe(encoded.replace(/'/g, '%27'));
  });
});

describe('timer scheduler', () => {
  // The scheduler arms setTimeout against the Date clock; fake timers drive both, so a schedule's seconds pass
  // at once and exactly. Promise jobs stay real, so handlers and stop() run as they do in production.
  const START = Date.UTC(2026, 0, 1, 12, 0, 0, 250);
  beforeEach(() => {
    jest.useFakeTimers({ now: START, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('fires a */1 second schedule (resolved from an app setting) once per second, each run not past due', async () => {
    const fired: { at: number; timer: Timer }[] = [];
    const host = new StandaloneHost({
      env: { TICK_SCHEDULE: '*/1 * * * * *' },
      settings: readStandaloneSettings({ STANDALONE_HTTP_PORT: '0' }),
      logger: silentLogger,
      registrations: [
        {
          kind: 'timer',
          name: 'tick',
          options: { schedule: '%TICK_SCHEDULE%', handler: (timer: Timer) => void fired.push({ at: Date.now(), timer }) },
        },
      ],
    });
    await host.start();
    try {
      for (let step = 0; step < 60 && fired.length < 3; step++) await jest.advanceTimersByTimeAsync(100);
      expect(fired.length).toBeGreaterThanOrEqual(3);
    } finally {
      await host.stop();
    }
    expect(fired[0]!.at).toBe(START + 750); // the next whole second, not a second after start
    const gaps = fired.slice(1).map((f, i) => f.at - fired[i]!.at);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(900);
      expect(gap).toBeLessThan(2100);
    }
    for (const { timer } of fired) {
      expect(timer.isPastDue).toBe(false);
      expect(Date.parse(timer.scheduleStatus.next) % 1000).toBe(0);
    }
    const count = fired.length;
    await jest.advanceTimersByTimeAsync(1300);
    expect(fired.length).toBe(count); // stopped: no more runs
  });

  it('does not overlap a running execution, and stop() waits for it to finish', async () => {
    const held = gate();
    let entered = 0;
    let finished = 0;
    const host = new StandaloneHost({
      env: {},
      settings: readStandaloneSettings({ STANDALONE_HTTP_PORT: '0' }),
      logger: silentLogger,
      registrations: [
        {
          kind: 'timer',
          name: 'slow-tick',
          options: {
            schedule: '*/1 * * * * *',
            handler: async () => {
              entered++;
              await held.promise;
              finished++;
            },
          },
        },
      ],
    });
    await host.start();
    await jest.advanceTimersByTimeAsync(750);
    expect(entered).toBe(1);
    await jest.advanceTimersByTimeAsync(1500); // the next occurrence comes while the first run is held: skipped
    expect(entered).toBe(1);
    let stopped = false;
    const stopping = host.stop().then(() => {
      stopped = true;
    });
    await jest.advanceTimersByTimeAsync(1500); // a whole schedule period: no new run, and stop() still waiting
    expect(stopped).toBe(false);
    expect(entered).toBe(1);
    held.open();
    await stopping;
    expect(finished).toBe(1);
  });
});

describe('queue poller', () => {
  let service: QueueServiceClient;
  const pollers: QueuePoller[] = [];

  beforeAll(() => {
    service = QueueServiceClient.fromConnectionString(azurite.connectionString);
  });

  afterEach(async () => {
    await Promise.allSettled(pollers.splice(0).map((p) => p.stop()));
  });

  async function freshQueue(name: string): Promise<{ queue: QueueClient; poison: QueueClient }> {
    const queue = service.getQueueClient(name);
    const poison = service.getQueueClient(`${name}-poison`);
    await queue.createIfNotExists();
    return { queue, poison };
  }

  const sendJson = (queue: QueueClient, value: unknown): Promise<unknown> =>
    queue.sendMessage(Buffer.from(JSON.stringify(value), 'utf8').toString('base64'));

  async function queueLength(queue: QueueClient): Promise<number> {
    if (!(await queue.exists())) return 0;
    return (await queue.getProperties()).approximateMessagesCount ?? 0;
  }

  it('delivers base64 JSON messages parsed, with the trigger metadata, and deletes them after success (through StandaloneHost)', async () => {
    const { queue } = await freshQueue('standalone-ok');
    const got: { body: unknown; dequeueCount: unknown }[] = [];
    const host = new StandaloneHost({
      env: { AzureWebJobsStorage: azurite.connectionString, WORK_QUEUE: 'standalone-ok' },
      settings: readStandaloneSettings({ STANDALONE_HTTP_PORT: '0' }),
      logger: silentLogger,
      registrations: [
        {
          kind: 'storageQueue',
          name: 'work',
          options: {
            connection: 'AzureWebJobsStorage',
            queueName: '%WORK_QUEUE%',
            handler: (body: unknown, context: InvocationContext) =>
              void got.push({ body, dequeueCount: context.triggerMetadata?.['dequeueCount'] }),
          },
        },
      ],
    });
    await host.start();
    try {
      await sendJson(queue, { sweepId: 's-1', shard: 3 });
      await queue.sendMessage(Buffer.from('not json', 'utf8').toString('base64'));
      await eventually(() => got.length >= 2, 10000, 'two deliveries');
      await eventually(async () => (await queueLength(queue)) === 0, 5000, 'the messages to be deleted');
    } finally {
      await host.stop();
    }
    expect(got).toEqual(
      expect.arrayContaining([
        { body: { sweepId: 's-1', shard: 3 }, dequeueCount: 1 },
        { body: 'not json', dequeueCount: 1 },
      ]),
    );
    expect(got).toHaveLength(2);
  });

  it('redelivers a failed message after the retry visibility timeout until it succeeds', async () => {
    const { queue, poison } = await freshQueue('flaky-work');
    const deliveries: { at: number; dequeueCount: unknown }[] = [];
    const poller = new QueuePoller(
      [
        {
          functionName: 'flaky',
          queue,
          poisonQueue: poison,
          handler: (_body: unknown, context: InvocationContext) => {
            deliveries.push({ at: Date.now(), dequeueCount: context.triggerMetadata?.['dequeueCount'] });
            return deliveries.length < 3 ? Promise.reject(new Error('transient')) : Promise.resolve();
          },
        },
      ],
      silentLogger,
      { maxDequeueCount: 5, visibilityTimeoutSeconds: 30, retryVisibilityTimeoutSeconds: 1, minPollMs: 50, maxPollMs: 200 },
    );
    pollers.push(poller);
    await poller.start();
    await sendJson(queue, { n: 1 });
    await eventually(async () => deliveries.length === 3 && (await queueLength(queue)) === 0, 15000, 'three deliveries and a delete');
    expect(deliveries.map((d) => d.dequeueCount)).toEqual([1, 2, 3]);
    // Retried after the 1 s retry delay, long before the 30 s processing lease would have run out.
    for (let i = 1; i < deliveries.length; i++) {
      const gap = deliveries[i]!.at - deliveries[i - 1]!.at;
      expect(gap).toBeGreaterThanOrEqual(900);
      expect(gap).toBeLessThan(10000);
    }
    expect(await queueLength(poison)).toBe(0);
  });

  it('moves a message to <queue>-poison after maxDequeueCount failed deliveries, unchanged', async () => {
    const { queue, poison } = await freshQueue('doomed-work');
    let deliveries = 0;
    const poller = new QueuePoller(
      [
        {
          functionName: 'doomed',
          queue,
          poisonQueue: poison,
          handler: () => {
            deliveries++;
            return Promise.reject(new Error('always fails'));
          },
        },
      ],
      silentLogger,
      { maxDequeueCount: 3, visibilityTimeoutSeconds: 30, retryVisibilityTimeoutSeconds: 0, minPollMs: 50, maxPollMs: 200 },
    );
    const receives = jest.spyOn(queue, 'receiveMessages');
    pollers.push(poller);
    await poller.start();
    const text = Buffer.from(JSON.stringify({ n: 'poison' }), 'utf8').toString('base64');
    await queue.sendMessage(text);
    await eventually(
      async () => (await queueLength(poison)) === 1 && (await queueLength(queue)) === 0,
      15000,
      'the message to move to the poison queue',
    );
    // Two more polls once it moved: the poller has looked at the queue again and found nothing to deliver.
    const pollsSoFar = receives.mock.calls.length;
    await eventually(() => receives.mock.calls.length >= pollsSoFar + 2, 5000, 'two more polls');
    expect(deliveries).toBe(3);
    expect(await queueLength(queue)).toBe(0);
    const [moved] = (await poison.receiveMessages()).receivedMessageItems;
    expect(moved?.messageText).toBe(text);
  });

  it('poisons a message whose handler never finished (its lease ran out) once it is over maxDequeueCount', async () => {
    const { queue, poison } = await freshQueue('crashed-work');
    // Three deliveries that were never settled (as if the process died each time). Each lease is handed back at
    // once instead of waiting the 1 s it takes to run out: to the poller the message looks the same either way.
    await sendJson(queue, { n: 'crashed' });
    for (let i = 0; i < 3; i++) {
      const [lease] = (await queue.receiveMessages({ visibilityTimeout: 30 })).receivedMessageItems;
      expect(lease?.dequeueCount).toBe(i + 1);
      await queue.updateMessage(lease!.messageId, lease!.popReceipt, undefined, 0);
    }
    let deliveries = 0;
    const poller = new QueuePoller(
      [{ functionName: 'crashed', queue, poisonQueue: poison, handler: () => void deliveries++ }],
      silentLogger,
      {
        maxDequeueCount: 3,
        minPollMs: 50,
        maxPollMs: 200,
      },
    );
    pollers.push(poller);
    await poller.start();
    await eventually(async () => (await queueLength(poison)) === 1, 10000, 'the poison queue to hold the message');
    expect(deliveries).toBe(0);
  });
});

describe('event consumer drain (SIGTERM)', () => {
  it('stop() lets an in-flight batch finish and checkpoint it; the next consumer resumes after it', async () => {
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('drain-checkpoints');
    const deviceId = 'drain-device';
    const partitionId = hub.events.partitionFor(deviceId);
    const held = gate();
    const first: { messages: unknown[]; partitionContext: Record<string, string> }[] = [];
    let entered = false;
    let finished = false;
    const checkpointed: { partitionId: string; events: number; lastSequenceNumber: number }[] = [];
    const consumer = new EventConsumer({
      connection: { connectionString: hub.eventHubConnectionString },
      consumerGroup: CONSUMER_GROUP,
      checkpointContainer: container,
      functionName: 'drain',
      // The drain assertions read bodies as JSON, as a `dataType: 'string'` trigger hands them over.
      dataType: 'string',
      handler: async (messages, context) => {
        first.push({
          messages: messages as unknown[],
          partitionContext: context.triggerMetadata?.['partitionContext'] as Record<string, string>,
        });
        entered = true;
        await held.promise;
        finished = true;
      },
      logger: silentLogger,
      maxWaitTimeInSeconds: 0.2,
      loadBalancing: { strategy: 'greedy', updateIntervalInMs: 200 },
      onBatchCheckpointed: (info) => checkpointed.push(info),
    });
    // Watch stop() from outside: when the subscription has closed (no more batches) and whether the client is closed.
    const subscribe = jest.spyOn(EventHubConsumerClient.prototype, 'subscribe');
    const clientClose = jest.spyOn(EventHubConsumerClient.prototype, 'close');
    let subscriptionClosed = false;
    let stopped = false;
    let stopping: Promise<void> | undefined;
    try {
      await consumer.start();
      const subscription = subscribe.mock.results[0]?.value as Subscription;
      const closeSubscription = subscription.close.bind(subscription);
      subscription.close = async () => {
        await closeSubscription();
        subscriptionClosed = true;
      };
      const deliveredBefore = hub.events.stats.delivered;
      for (let i = 0; i < 3; i++) hub.events.injectTelemetry(deviceId, { n: i });
      await eventually(() => entered, 15000, 'the batch to reach the handler');
      // The rest of the three events reach the consumer too, whichever batch they land in.
      await eventually(() => hub.events.stats.delivered - deliveredBefore >= 3, 5000, 'the endpoint to deliver all three events');
      stopping = consumer.stop().then(() => {
        stopped = true;
      });
      await eventually(() => subscriptionClosed, 15000, 'stop() to close the subscription');
      await new Promise((resolve) => setImmediate(resolve));
      // Draining: stop() has done all it can without the handler, and now waits for it.
      expect(stopped).toBe(false);
      expect(clientClose).not.toHaveBeenCalled();
      expect(checkpointed).toEqual([]);
      held.open();
      await stopping;
      expect(clientClose).toHaveBeenCalledTimes(1);
    } finally {
      held.open();
      subscribe.mockRestore();
      clientClose.mockRestore();
      if (!stopping) await consumer.stop();
    }
    expect(finished).toBe(true);
    expect(first).toHaveLength(1);
    const delivered = first[0]!.messages;
    expect(delivered[0]).toEqual({ n: 0 });
    expect(checkpointed).toHaveLength(1);
    expect(checkpointed[0]).toMatchObject({ partitionId, events: delivered.length });

    const { fullyQualifiedNamespace, eventHubName, consumerGroup } = first[0]!.partitionContext;
    const checkpoints = await new BlobCheckpointStore(container).listCheckpoints(fullyQualifiedNamespace!, eventHubName!, consumerGroup!);
    expect(checkpoints.filter((c) => c.partitionId === partitionId).map((c) => c.sequenceNumber)).toEqual([
      checkpointed[0]!.lastSequenceNumber,
    ]);

    // A new consumer on the same checkpoints gets what came after the drained batch, and nothing of it again.
    const second: unknown[] = [];
    const isAfter = (m: unknown): boolean => JSON.stringify(m) === '{"n":"after"}';
    let afterCheckpointed = false;
    const next = new EventConsumer({
      connection: { connectionString: hub.eventHubConnectionString },
      consumerGroup: CONSUMER_GROUP,
      checkpointContainer: container,
      functionName: 'drain',
      dataType: 'string',
      handler: (messages) => {
        second.push(...(messages as unknown[]));
        return Promise.resolve();
      },
      logger: silentLogger,
      maxWaitTimeInSeconds: 0.2,
      loadBalancing: { strategy: 'greedy', updateIntervalInMs: 200 },
      onBatchCheckpointed: () => {
        afterCheckpointed ||= second.some(isAfter);
      },
    });
    await next.start();
    try {
      hub.events.injectTelemetry(deviceId, { n: 'after' });
      // Events of a partition arrive in order: once the batch with the last one is handled and checkpointed,
      // anything replayed from before it would already be in `second`.
      await eventually(() => afterCheckpointed, 15000, 'the event sent after the restart to be handled and checkpointed');
    } finally {
      await next.stop();
    }
    expect([...delivered, ...second]).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }, { n: 'after' }]);
  });
});
