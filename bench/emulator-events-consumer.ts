/**
 * The consumer side of the notification-stream benchmark: one `EventHubConsumerClient` subscription
 * reading every partition from the start. Used in the benchmark's own process and, forked, as a
 * separate consumer process (how a real consumer runs: another process, here on the other core).
 */
import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';

export interface ConsumerRun {
  /** Resolves with `performance.now()` (this process's clock) when the last expected event arrived. */
  readonly allReceived: Promise<number>;
  /** Events whose body the SDK decoded from JSON into an object; must equal the expected count. */
  decodedObjects(): number;
  close(): Promise<void>;
}

/**
 * Connects, subscribes and waits for the links to settle, so that connection, `$cbs` and link setup
 * are not part of what is measured. Resolves once the subscription is ready for publishing to start.
 */
export async function startConsumer(connectionString: string, expectedEvents: number): Promise<ConsumerRun> {
  const consumer = new EventHubConsumerClient('$Default', connectionString);
  await consumer.getPartitionIds();
  let received = 0;
  let decoded = 0;
  let done: (at: number) => void = () => undefined;
  const allReceived = new Promise<number>((resolve) => (done = resolve));
  const subscription = consumer.subscribe(
    {
      processEvents: (events) => {
        for (const event of events) {
          if (typeof event.body === 'object' && event.body !== null && !Buffer.isBuffer(event.body)) decoded += 1;
        }
        received += events.length;
        if (received >= expectedEvents) done(performance.now());
        return Promise.resolve();
      },
      processError: () => Promise.resolve(),
    },
    { startPosition: earliestEventPosition, maxBatchSize: 300, maxWaitTimeInSeconds: 1 },
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
  return {
    allReceived,
    decodedObjects: () => decoded,
    close: async () => {
      await subscription.close();
      await consumer.close();
    },
  };
}

/** Messages a forked consumer sends its parent. */
export type ConsumerMessage = { type: 'ready' } | { type: 'done'; decodedObjects: number } | { type: 'failed'; error: string };

// Forked by the benchmark: argv is [connectionString, expectedEvents]; reports over the IPC channel.
if (require.main === module && process.send !== undefined) {
  const send = (message: ConsumerMessage): void => void process.send?.(message);
  const [connectionString = '', expected = '0'] = process.argv.slice(2);
  startConsumer(connectionString, Number(expected))
    .then(async (run) => {
      send({ type: 'ready' });
      await run.allReceived;
      send({ type: 'done', decodedObjects: run.decodedObjects() });
      await run.close();
      process.disconnect();
    })
    .catch((error: unknown) => {
      send({ type: 'failed', error: String(error) });
      process.exitCode = 1;
      process.disconnect();
    });
}
