/**
 * Notification stream of the emulated built-in endpoint: 50,000 reported-property twin-change
 * notifications across 5,000 devices (4 partitions), consumed by one real `EventHubConsumerClient`
 * subscription. Measured from the first publish to the last event received; target ≥ 5,000 events/s.
 * Run: `node dist/bench/emulator-events.bench.js` (or via `npm run bench -- emulator-events`).
 */
import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';
import type { BenchResult } from './bench-result';
import { EventHubEndpoint } from '../emulator/eventhub/endpoint';
import { DEFAULT_ROUTES } from '../emulator/hub-events';

export type { BenchResult };

const EVENTS = Number(process.env.BENCH_EVENTS ?? 50_000);
const DEVICES = 5_000;
const TARGET_EVENTS_PER_SECOND = 5_000;

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

export async function run(): Promise<BenchResult[]> {
  const endpoint = new EventHubEndpoint({
    hubName: 'bench-hub',
    eventHubName: 'bench-hub',
    partitionCount: 4,
    consumerGroups: [],
    sharedAccessKeyName: 'service',
    sharedAccessKey: 'YmVuY2gta2V5',
    routes: DEFAULT_ROUTES,
  });
  await endpoint.start();
  const consumer = new EventHubConsumerClient('$Default', endpoint.connectionString());
  try {
    // Connection, $cbs and link setup are not what is measured: subscribe and warm up first.
    await consumer.getPartitionIds();
    let received = 0;
    let lastReceivedAt = 0;
    let startedAt = 0;
    let publishedAt = 0;
    let done: () => void = () => undefined;
    const allReceived = new Promise<void>((resolve) => (done = resolve));
    const subscription = consumer.subscribe(
      {
        processEvents: async (events) => {
          received += events.length;
          if (received >= EVENTS) {
            lastReceivedAt = performance.now();
            done();
          }
        },
        processError: async () => undefined,
      },
      { startPosition: earliestEventPosition, maxBatchSize: 300, maxWaitTimeInSeconds: 1 },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));

    startedAt = performance.now();
    for (let index = 0; index < EVENTS; index += 1) {
      endpoint.publishChange({
        kind: 'twinChange',
        opType: 'updateTwin',
        deviceId: `device-${index % DEVICES}`,
        moduleId: 'DefenderIotMicroAgent',
        body: reportedPatch(Math.floor(index / DEVICES) + 2),
        operationTime: new Date(),
      });
    }
    publishedAt = performance.now();
    await allReceived;
    await subscription.close();

    const seconds = (lastReceivedAt - startedAt) / 1000;
    const rate = EVENTS / seconds;
    return [
      { name: `twin-change notifications published (${EVENTS.toLocaleString('en-US')})`, value: Math.round(EVENTS / ((publishedAt - startedAt) / 1000)), unit: 'events/s' },
      { name: 'first publish → last event received by one consumer', value: Math.round(rate), unit: 'events/s', target: `≥ ${TARGET_EVENTS_PER_SECOND.toLocaleString('en-US')}/s`, pass: rate >= TARGET_EVENTS_PER_SECOND },
      { name: 'end-to-end duration', value: Number(seconds.toFixed(2)), unit: 's' },
      { name: 'deliveries sent (no redelivery expected)', value: endpoint.stats.delivered, unit: 'events', target: `= ${EVENTS}`, pass: endpoint.stats.delivered === EVENTS },
    ];
  } finally {
    await consumer.close();
    await endpoint.stop();
  }
}

if (require.main === module) {
  run()
    .then((results) => {
      for (const result of results) console.log(`${result.name}: ${result.value} ${result.unit}${result.target ? ` (target ${result.target}: ${result.pass ? 'PASS' : 'MISS'})` : ''}`);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
