import {
  EventHubConsumerClient,
  earliestEventPosition,
  latestEventPosition,
  type EventHubConsumerClientOptions,
  type PartitionContext,
  type ReceivedEventData,
  type Subscription,
} from '@azure/event-hubs';
import type { CheckpointStore } from '@azure/event-hubs';
import { ContainerClient } from '@azure/storage-blob';
import { InvocationContext } from '@azure/functions';
import type { TokenCredential } from '@azure/core-auth';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { ExclusiveClaimCheckpointStore } from './exclusive-claim-checkpoint-store';
import { toHostShapedBatch, type HostDataType } from './host-batch';
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
  /**
   * This consumer's name in the partition ownership records (the SDK's `identifier`, its processor's owner id), so
   * an ownership blob says which host holds a partition. Must differ between hosts and between runs of one host:
   * a restarted process that reused its predecessor's id would wait for its own stale claims to expire.
   */
  identifier?: string;
  /** Setting names quoted in start-up errors (default IOTHUB_EVENTS_CONSUMER_GROUP and IOTHUB_EVENTS_NAME). */
  settingNames?: { consumerGroup?: string; eventHubName?: string };
  /** How long {@link EventConsumer.verify} waits for the endpoint before it lets start-up go on (default 15 s). */
  verifyTimeoutMs?: number;
  /**
   * How bodies reach the handler, as the trigger's `dataType` makes the Functions host deliver them: 'binary' (the
   * default, what functions/iothub-events.ts registers) one Buffer per event, 'string' UTF-8 text JSON-parsed when it parses.
   */
  dataType?: HostDataType;
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
  private probeSubscription?: Subscription;
  private readonly reportedFatal = new Set<string>();

  constructor(private readonly options: EventConsumerOptions) {}

  /**
   * Fails fast on what no retry can fix: the event hub or the consumer group does not exist, or the connection's
   * key is refused. The load balancer would otherwise retry for ever while the rest of the host serves, logging
   * receive errors and processing nothing. Opens one plain (non-epoch) receiver on the first partition from its
   * latest event, so it never takes a partition from a host that owns it; any other outcome (events, an empty
   * wait, a transient error, no answer within verifyTimeoutMs) lets start-up continue.
   */
  async verify(): Promise<void> {
    const { options } = this;
    const probe = this.createClient(undefined, { retryOptions: { maxRetries: 0, timeoutInMs: options.verifyTimeoutMs ?? 15_000 } });
    const settings = {
      consumerGroup: options.settingNames?.consumerGroup ?? 'IOTHUB_EVENTS_CONSUMER_GROUP',
      eventHubName: options.settingNames?.eventHubName ?? 'IOTHUB_EVENTS_NAME',
    };
    try {
      let partitionIds: string[];
      try {
        partitionIds = await probe.getPartitionIds();
      } catch (err) {
        const fatal = startupFailure(err, { eventHubName: probe.eventHubName, consumerGroup: options.consumerGroup }, settings, 'eventHub');
        if (fatal) throw fatal;
        options.logger.warn('could not reach the Event Hub-compatible endpoint at start-up; the consumer keeps retrying', {
          error: errorMessage(err),
        });
        return;
      }
      const outcome = await new Promise<unknown>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), options.verifyTimeoutMs ?? 15_000);
        const settle = (value: unknown): Promise<void> => {
          clearTimeout(timer);
          resolve(value);
          return Promise.resolve();
        };
        const subscription = probe.subscribe(
          partitionIds[0] ?? '0',
          { processEvents: () => settle(undefined), processError: (err) => settle(err) },
          { startPosition: latestEventPosition, maxBatchSize: 1, maxWaitTimeInSeconds: 0.2 },
        );
        this.probeSubscription = subscription;
      });
      await this.probeSubscription?.close().catch(() => undefined);
      this.probeSubscription = undefined;
      const fatal =
        outcome === undefined
          ? undefined
          : startupFailure(outcome, { eventHubName: probe.eventHubName, consumerGroup: options.consumerGroup }, settings, 'consumerGroup');
      if (fatal) throw fatal;
    } finally {
      await probe.close().catch(() => undefined);
    }
  }

  private createClient(checkpointStore: CheckpointStore | undefined, extra: EventHubConsumerClientOptions = {}): EventHubConsumerClient {
    const { options } = this;
    const clientOptions: EventHubConsumerClientOptions = {
      ...(options.identifier ? { identifier: options.identifier } : {}),
      ...(checkpointStore && options.loadBalancing ? { loadBalancingOptions: options.loadBalancing } : {}),
      ...extra,
    };
    const { connection } = options;
    if ('connectionString' in connection) {
      if (options.eventHubName) {
        return checkpointStore
          ? new EventHubConsumerClient(
              options.consumerGroup,
              connection.connectionString,
              options.eventHubName,
              checkpointStore,
              clientOptions,
            )
          : new EventHubConsumerClient(options.consumerGroup, connection.connectionString, options.eventHubName, clientOptions);
      }
      return checkpointStore
        ? new EventHubConsumerClient(options.consumerGroup, connection.connectionString, checkpointStore, clientOptions)
        : new EventHubConsumerClient(options.consumerGroup, connection.connectionString, clientOptions);
    }
    if (!options.eventHubName) throw new Error('an identity-based Event Hubs connection needs the event hub name (IOTHUB_EVENTS_NAME)');
    return checkpointStore
      ? new EventHubConsumerClient(
          options.consumerGroup,
          connection.fullyQualifiedNamespace,
          options.eventHubName,
          connection.credential,
          checkpointStore,
          clientOptions,
        )
      : new EventHubConsumerClient(
          options.consumerGroup,
          connection.fullyQualifiedNamespace,
          options.eventHubName,
          connection.credential,
          clientOptions,
        );
  }

  async start(): Promise<void> {
    const { options } = this;
    await options.checkpointContainer.createIfNotExists();
    const checkpointStore = new ExclusiveClaimCheckpointStore(options.checkpointContainer);
    this.client = this.createClient(checkpointStore);
    this.subscription = this.client.subscribe(
      {
        processEvents: (events, context) => this.track(this.processBatch(events, context)),
        // Which host reads which partition, for operators of several hosts (and the scale-out tests).
        processInitialize: (context) => {
          options.logger.info('partition claimed', { partitionId: context.partitionId, host: options.identifier });
          return Promise.resolve();
        },
        processClose: (reason, context) => {
          options.logger.info('partition released', { partitionId: context.partitionId, reason, host: options.identifier });
          return Promise.resolve();
        },
        processError: (err, context) => {
          if (!this.stopping.signal.aborted) this.reportReceiveError(err, context.partitionId);
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

  /**
   * A lost partition (another host's receiver took it over) is the load balancer at work, not a fault; a missing
   * entity is a configuration error the SDK retries for ever, so it is logged as one, once per distinct message.
   */
  private reportReceiveError(err: unknown, partitionId: string): void {
    const code = (err as { code?: unknown } | undefined)?.code;
    if (code === 'ReceiverDisconnectedError') {
      this.options.logger.info('partition taken over by another host', { partitionId, host: this.options.identifier });
      return;
    }
    if (code === 'MessagingEntityNotFoundError') {
      const message = errorMessage(err);
      if (this.reportedFatal.has(message)) return;
      this.reportedFatal.add(message);
      this.options.logger.error(
        `event hub or consumer group not found: check ${this.options.settingNames?.consumerGroup ?? 'IOTHUB_EVENTS_CONSUMER_GROUP'} and ${this.options.settingNames?.eventHubName ?? 'IOTHUB_EVENTS_NAME'}; nothing is processed until it exists`,
        { partitionId, consumerGroup: this.options.consumerGroup, error: message },
      );
      return;
    }
    this.options.logger.warn('event hub receive error (the client reconnects by itself)', { partitionId, error: errorMessage(err) });
  }

  private track(work: Promise<void>): Promise<void> {
    this.inFlight.add(work);
    return work.finally(() => this.inFlight.delete(work));
  }

  private async processBatch(events: ReceivedEventData[], context: PartitionContext): Promise<void> {
    if (events.length === 0) return;
    const { options } = this;
    const batch = toHostShapedBatch(
      events,
      {
        fullyQualifiedNamespace: context.fullyQualifiedNamespace,
        eventHubName: context.eventHubName,
        consumerGroup: context.consumerGroup,
        partitionId: context.partitionId,
      },
      options.dataType,
    );
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
    await this.probeSubscription?.close().catch(() => undefined);
    await this.subscription?.close();
    await Promise.allSettled([...this.inFlight]);
    await this.client?.close();
  }
}

/**
 * The start-up error for what {@link EventConsumer.verify} saw, or undefined when it is not a configuration error.
 * The SDK names a missing entity `MessagingEntityNotFoundError` (core-amqp translates `amqp:not-found` and "The
 * messaging entity … could not be found"); a refused key is `UnauthorizedError`.
 */
function startupFailure(
  err: unknown,
  client: { eventHubName: string; consumerGroup: string },
  settings: { consumerGroup: string; eventHubName: string },
  stage: 'eventHub' | 'consumerGroup',
): Error | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === 'MessagingEntityNotFoundError') {
    return stage === 'eventHub'
      ? new Error(
          `Event hub '${client.eventHubName}' does not exist on the Event Hub-compatible endpoint: set ${settings.eventHubName} (or the connection string's EntityPath) to the hub's Event Hub-compatible name (${errorMessage(err)})`,
        )
      : new Error(
          `Consumer group '${client.consumerGroup}' does not exist on event hub '${client.eventHubName}': create it (az iot hub consumer-group create --hub-name <hub> --name ${client.consumerGroup}) or set ${settings.consumerGroup} to an existing one (${errorMessage(err)})`,
        );
  }
  if (code === 'UnauthorizedError') {
    return new Error(`The Event Hub-compatible endpoint refused the connection's credentials (${errorMessage(err)})`);
  }
  return undefined;
}
