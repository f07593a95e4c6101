/**
 * Notification stream of the emulated built-in endpoint: 50,000 reported-property twin-change
 * notifications across 5,000 devices (4 partitions), consumed by one real `EventHubConsumerClient`
 * subscription. Measured from the first publish to the last event received; target ≥ 5,000 events/s.
 *
 * Measured twice, each against a fresh endpoint: with the consumer in the benchmark's own process
 * (server and consumer then share one event loop and one core), and with the consumer in a separate
 * process, as a real consumer is (the machine has two cores). Either way every event is delivered
 * over AMQP to, and decoded by, the real SDK consumer. `BENCH_CONSUMER=same|process` runs only one.
 * Run: `node dist/bench/emulator-events.bench.js` (or via `npm run bench -- emulator-events`).
 */
import { fork } from 'node:child_process';
import { type BenchResult, runIfMain } from './bench-result';
import { startConsumer } from './emulator-events-consumer';
import type { ConsumerMessage } from './emulator-events-consumer';
import { EventHubEndpoint } from '../emulator/eventhub/endpoint';
import { DEFAULT_ROUTES } from '../emulator/hub-events';

export type { BenchResult };

const EVENTS = Number(process.env.BENCH_EVENTS ?? 50_000);
const DEVICES = 5_000;
const TARGET_EVENTS_PER_SECOND = 5_000;

type ConsumerPlacement = 'same' | 'process';

const PLACEMENT_LABEL: Readonly<Record<ConsumerPlacement, string>> = {
  same: 'consumer in the same process',
  process: 'consumer in a separate process',
};

function reportedPatch(version: number): Record<string, unknown> {
  const at = new Date().toISOString();
  return {
    version,
    properties: {
      reported: {
        SecurityPosture: { score: version % 100, agentVersion: '4.2.1' },
        $metadata: { $lastUpdated: at, SecurityPosture: { $lastUpdated: at } },
        $version: version,
      },
    },
  };
}

function createEndpoint(): EventHubEndpoint {
  return new EventHubEndpoint({
    hubName: 'bench-hub',
    eventHubName: 'bench-hub',
    partitionCount: 4,
    consumerGroups: [],
    sharedAccessKeyName: 'service',
    sharedAccessKey: 'YmVuY2gta2V5',
    routes: DEFAULT_ROUTES,
  });
}

/**
 * Changes published per event-loop turn. The registry publishes as its requests arrive, never 50,000
 * in one synchronous loop that keeps the endpoint from delivering anything until it ends; yielding
 * between chunks lets delivery overlap publishing (same work, same clock: first publish → last event).
 * `BENCH_PUBLISH_CHUNK=50000` gives the single-burst variant.
 */
const PUBLISH_CHUNK = Number(process.env.BENCH_PUBLISH_CHUNK ?? 1_000);

async function publishAll(endpoint: EventHubEndpoint): Promise<void> {
  for (let index = 0; index < EVENTS; index += 1) {
    if (index > 0 && index % PUBLISH_CHUNK === 0) await new Promise((resolve) => setImmediate(resolve));
    endpoint.publishChange({
      kind: 'twinChange',
      opType: 'updateTwin',
      deviceId: `device-${index % DEVICES}`,
      moduleId: 'DefenderIotMicroAgent',
      body: reportedPatch(Math.floor(index / DEVICES) + 2),
      operationTime: new Date(),
    });
  }
}

/** A ready consumer, wherever it runs; `allReceived` resolves with this process's clock. */
interface ConsumerHandle {
  readonly allReceived: Promise<number>;
  decodedObjects(): number;
  close(): Promise<void>;
}

async function sameProcessConsumer(endpoint: EventHubEndpoint): Promise<ConsumerHandle> {
  return startConsumer(endpoint.connectionString(), EVENTS);
}

/**
 * Forks the consumer. The end time is taken here when its "done" message arrives, which includes
 * the IPC hop: slightly pessimistic, but on one clock.
 */
async function separateProcessConsumer(endpoint: EventHubEndpoint): Promise<ConsumerHandle> {
  const child = fork(require.resolve('./emulator-events-consumer'), [endpoint.connectionString(), String(EVENTS)], { stdio: 'inherit' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let decoded = 0;
  let finished = false;
  // Each promise settles once; a later failure or exit no longer matters for an already-settled one.
  const failOn = (reject: (error: Error) => void): void => {
    child.on('message', (message: ConsumerMessage) => {
      if (message.type === 'failed') reject(new Error(`consumer process failed: ${message.error}`));
    });
    child.once('exit', (code) => reject(new Error(`consumer process exited early (code ${String(code)})`)));
  };
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message: ConsumerMessage) => message.type === 'ready' && resolve());
    failOn(reject);
  });
  const allReceived = new Promise<number>((resolve, reject) => {
    child.on('message', (message: ConsumerMessage) => {
      if (message.type !== 'done') return;
      decoded = message.decodedObjects;
      finished = true;
      resolve(performance.now());
    });
    failOn(reject);
  });
  // Awaited by the caller after publishing; until then a failure surfaces through `ready` or later.
  allReceived.catch(() => undefined);
  await ready;
  return {
    allReceived,
    decodedObjects: () => decoded,
    // A consumer still waiting (the measurement failed) would never exit by itself.
    close: () => {
      if (!finished) child.kill();
      return exited;
    },
  };
}

async function measure(placement: ConsumerPlacement): Promise<BenchResult[]> {
  const endpoint = createEndpoint();
  await endpoint.start();
  try {
    const consumer = placement === 'same' ? await sameProcessConsumer(endpoint) : await separateProcessConsumer(endpoint);
    try {
      const startedAt = performance.now();
      await publishAll(endpoint);
      const publishedAt = performance.now();
      const lastReceivedAt = await consumer.allReceived;
      const seconds = (lastReceivedAt - startedAt) / 1000;
      const rate = EVENTS / seconds;
      const label = PLACEMENT_LABEL[placement];
      return [
        {
          name: `[${label}] publish phase (${EVENTS.toLocaleString('en-US')} changes, ${Math.min(PUBLISH_CHUNK, EVENTS).toLocaleString('en-US')} per loop turn)`,
          value: Math.round(EVENTS / ((publishedAt - startedAt) / 1000)),
          unit: 'events/s',
        },
        {
          name: `[${label}] first publish → last event received`,
          value: Math.round(rate),
          unit: 'events/s',
          target: `≥ ${TARGET_EVENTS_PER_SECOND.toLocaleString('en-US')}/s`,
          pass: rate >= TARGET_EVENTS_PER_SECOND,
        },
        { name: `[${label}] end-to-end duration`, value: Number(seconds.toFixed(2)), unit: 's' },
        {
          name: `[${label}] deliveries sent (no redelivery expected)`,
          value: endpoint.stats.delivered,
          unit: 'events',
          target: `= ${EVENTS}`,
          pass: endpoint.stats.delivered === EVENTS,
        },
        {
          name: `[${label}] events decoded by the SDK into JSON bodies`,
          value: consumer.decodedObjects(),
          unit: 'events',
          target: `= ${EVENTS}`,
          pass: consumer.decodedObjects() === EVENTS,
        },
      ];
    } finally {
      await consumer.close();
    }
  } finally {
    await endpoint.stop();
  }
}

export async function run(): Promise<BenchResult[]> {
  const only = process.env.BENCH_CONSUMER;
  const placements: ConsumerPlacement[] = only === 'same' || only === 'process' ? [only] : ['same', 'process'];
  const results: BenchResult[] = [];
  for (const placement of placements) results.push(...(await measure(placement)));
  return results;
}

runIfMain(module, run);
