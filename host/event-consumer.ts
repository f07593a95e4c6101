import {
  EventHubConsumerClient,
  earliestEventPosition,
  type PartitionContext,
  type ReceivedEventData,
  type Subscription,
} from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import { InvocationContext } from '@azure/functions';
import type { TokenCredential } from '@azure/core-auth';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { toHostShapedBatch } from './host-batch';
import { logHandlerFor } from './log-handler';

export type BatchHandler = (messages: unknown, context: InvocationContext) => Promise<unknown>;

export interface EventConsumerOptions {
  /** Event Hub-compatible connection string (IOTHUB_EVENTS_CONNECTION), or a namespace with a credential. */
  connection: { connectionString: string } | { fullyQualifiedNamespace: string; credential: TokenCredential };
  eventHubName?: string;
  consumerGroup: string;
  /** Blob container holding checkpoints and partition ownership (durable across restarts). */
  checkpointContainer: ContainerClient;
  functionName: string;
  handler: BatchHandler;
  logger: Logger;
  maxBatchSize?: number;
  maxWaitTimeInSeconds?: number;
  /** Retry delays for a failed batch, like the function's exponential retry policy. */
  retryMinDelayMs?: number;
  retryMaxDelayMs?: number;
  /**
   * Partition claiming: 'balanced' (default) spreads partitions across several hosts sharing the
   * checkpoint store; 'greedy' claims everything at once (one host, tests).
   */
  loadBalancing?: { strategy: 'balanced' | 'greedy'; updateIntervalInMs?: number; partitionOwnershipExpirationIntervalInMs?: number };
  /** Called after each batch is handled and checkpointed (for live logging and tests). */
  onBatchCheckpointed?: (info: { partitionId: string; events: number; lastSequenceNumber: number }) => void;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Consumes the Event Hub-compatible endpoint the way the Functions Event Hubs trigger does:
 * batches per partition, the handler invoked with host-shaped input, a checkpoint written only after
 * the batch was fully handled. A failing batch is retried (it never moves the checkpoint); on stop,
 * in-flight batches finish or are abandoned un-checkpointed, so nothing is lost.
 */
export class EventConsumer {
  private client?: EventHubConsumerClient;
  private subscription?: Subscription;
  private readonly stopping = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private invocations = 0;

  constructor(private readonly options: EventConsumerOptions) {}

  async start(): Promise<void> {
    const { options } = this;
    await options.checkpointContainer.createIfNotExists();
    const checkpointStore = new BlobCheckpointStore(options.checkpointContainer);
    const clientOptions = options.loadBalancing ? { loadBalancingOptions: options.loadBalancing } : {};
    const { connection } = options;
    if ('connectionString' in connection) {
      this.client = options.eventHubName
        ? new EventHubConsumerClient(
            options.consumerGroup,
            connection.connectionString,
            options.eventHubName,
            checkpointStore,
            clientOptions,
          )
        : new EventHubConsumerClient(options.consumerGroup, connection.connectionString, checkpointStore, clientOptions);
    } else {
      if (!options.eventHubName) throw new Error('an identity-based Event Hubs connection needs the event hub name (IOTHUB_EVENTS_NAME)');
      this.client = new EventHubConsumerClient(
        options.consumerGroup,
        connection.fullyQualifiedNamespace,
        options.eventHubName,
        connection.credential,
        checkpointStore,
        clientOptions,
      );
    }
    this.subscription = this.client.subscribe(
      {
        processEvents: (events, context) => this.track(this.processBatch(events, context)),
        processError: (err, context) => {
          if (!this.stopping.signal.aborted) {
            options.logger.warn('event hub receive error (the client reconnects by itself)', {
              partitionId: context.partitionId,
              error: errorMessage(err),
            });
          }
          return Promise.resolve();
        },
      },
      {
        startPosition: earliestEventPosition,
        maxBatchSize: options.maxBatchSize ?? 100,
        maxWaitTimeInSeconds: options.maxWaitTimeInSeconds ?? 1,
        skipParsingBodyAsJson: true,
      },
    );
  }

  private track(work: Promise<void>): Promise<void> {
    this.inFlight.add(work);
    return work.finally(() => this.inFlight.delete(work));
  }

  private async processBatch(events: ReceivedEventData[], context: PartitionContext): Promise<void> {
    if (events.length === 0) return;
    const { options } = this;
    const batch = toHostShapedBatch(events, {
      fullyQualifiedNamespace: context.fullyQualifiedNamespace,
      eventHubName: context.eventHubName,
      consumerGroup: context.consumerGroup,
      partitionId: context.partitionId,
    });
    let delay = options.retryMinDelayMs ?? 1000;
    for (let attempt = 0; ; attempt++) {
      if (this.stopping.signal.aborted && attempt > 0) {
        // Abandon without a checkpoint: the next start resumes from the last one and replays this batch.
        throw new Error(`stopped while retrying a batch of partition ${context.partitionId}`);
      }
      const invocation = new InvocationContext({
        invocationId: `standalone-${process.pid}-${++this.invocations}`,
        functionName: options.functionName,
        triggerMetadata: batch.triggerMetadata,
        retryContext: attempt > 0 ? { retryCount: attempt, maxRetryCount: -1 } : undefined,
        logHandler: logHandlerFor(options.logger),
      });
      try {
        await options.handler(batch.messages, invocation);
        break;
      } catch (err) {
        options.logger.warn('batch failed; retrying without moving the checkpoint', {
          partitionId: context.partitionId,
          attempt: attempt + 1,
          delayMs: delay,
          error: errorMessage(err),
        });
        await sleep(delay, this.stopping.signal);
        delay = Math.min(delay * 2, options.retryMaxDelayMs ?? 5 * 60_000);
      }
    }
    const last = events[events.length - 1]!;
    await context.updateCheckpoint(last);
    options.onBatchCheckpointed?.({ partitionId: context.partitionId, events: events.length, lastSequenceNumber: last.sequenceNumber });
  }

  /** Drains: lets in-flight batches finish (and checkpoint), then closes the clients. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.subscription?.close();
    await Promise.allSettled([...this.inFlight]);
    await this.client?.close();
  }
}
