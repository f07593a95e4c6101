import { QueueClient } from '@azure/storage-queue';
import { InvocationContext, type StorageQueueHandler } from '@azure/functions';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { logHandlerFor } from './log-handler';

export interface QueueRoute {
  functionName: string;
  queue: QueueClient;
  /** `<queue>-poison`, where messages go after maxDequeueCount failed deliveries. */
  poisonQueue: QueueClient;
  handler: StorageQueueHandler;
}

export interface QueuePollerOptions {
  /** Messages fetched per poll (Functions default 16, max 32). */
  batchSize?: number;
  /** After this many failed deliveries a message moves to `<queue>-poison` (Functions default 5). */
  maxDequeueCount?: number;
  /** How long a message stays invisible while a handler runs; must exceed the longest run. */
  visibilityTimeoutSeconds?: number;
  /**
   * Delay before a message whose handler failed is visible again (host.json `queues.visibilityTimeout`,
   * Functions default 0: retried at once, not after the processing lease runs out).
   */
  retryVisibilityTimeoutSeconds?: number;
  /** Back-off bounds when the queue is empty (Functions: up to 1 min). */
  minPollMs?: number;
  maxPollMs?: number;
  /** Named in each log line, so with several hosts the logs say which one handled a message. */
  hostId?: string;
}

/**
 * Storage Queue trigger semantics outside Azure Functions: base64 messages (the Functions default
 * encoding), JSON bodies parsed, a message deleted only after its handler succeeded, redelivered
 * after the visibility timeout otherwise, and moved to the poison queue after maxDequeueCount tries.
 */
export class QueuePoller {
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private readonly wakers = new Set<() => void>();
  private invocations = 0;

  constructor(
    private readonly routes: QueueRoute[],
    private readonly logger: Logger,
    private readonly options: QueuePollerOptions = {},
  ) {}

  async start(): Promise<void> {
    for (const route of this.routes) {
      await route.queue.createIfNotExists();
      this.loops.push(this.loop(route));
    }
  }

  private async idle(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  private async loop(route: QueueRoute): Promise<void> {
    const minPoll = this.options.minPollMs ?? 100;
    const maxPoll = this.options.maxPollMs ?? 5_000;
    let wait = minPoll;
    while (!this.stopped) {
      let received;
      try {
        received = await route.queue.receiveMessages({
          numberOfMessages: this.options.batchSize ?? 16,
          visibilityTimeout: this.options.visibilityTimeoutSeconds ?? 600,
        });
      } catch (err) {
        if (this.stopped) return;
        this.logger.warn('queue receive failed; retrying', { functionName: route.functionName, error: errorMessage(err) });
        await this.idle(maxPoll);
        continue;
      }
      if (received.receivedMessageItems.length === 0) {
        await this.idle(wait);
        wait = Math.min(wait * 2, maxPoll);
        continue;
      }
      wait = minPoll;
      // A failed delete or poison move must not end the loop (nor reject it unhandled): the message
      // simply becomes visible again and is dealt with on its next delivery.
      await Promise.all(
        received.receivedMessageItems.map((message) =>
          this.deliver(route, message).catch((err: unknown) =>
            this.logger.warn('queue message could not be settled', {
              functionName: route.functionName,
              messageId: message.messageId,
              error: errorMessage(err),
            }),
          ),
        ),
      );
    }
  }

  private async deliver(
    route: QueueRoute,
    message: {
      messageId: string;
      popReceipt: string;
      messageText: string;
      dequeueCount: number;
      insertedOn: Date;
      expiresOn: Date;
      nextVisibleOn: Date;
    },
  ): Promise<void> {
    const maxDequeueCount = this.options.maxDequeueCount ?? 5;
    const text = Buffer.from(message.messageText, 'base64').toString('utf8');
    if (message.dequeueCount > maxDequeueCount) {
      // Its handler never finished maxDequeueCount times (e.g. the process died mid-run).
      await this.poison(route, message);
      return;
    }
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: the handler gets the text, as Functions does
    }
    const context = new InvocationContext({
      invocationId: `standalone-queue-${process.pid}-${++this.invocations}`,
      functionName: route.functionName,
      triggerMetadata: {
        id: message.messageId,
        dequeueCount: message.dequeueCount,
        insertionTime: message.insertedOn.toISOString(),
        expirationTime: message.expiresOn.toISOString(),
        nextVisibleTime: message.nextVisibleOn.toISOString(),
        popReceipt: message.popReceipt,
      },
      logHandler: logHandlerFor(this.logger),
    });
    const started = Date.now();
    try {
      await route.handler(body, context);
      await route.queue.deleteMessage(message.messageId, message.popReceipt);
      this.logger.info('queue message handled', {
        functionName: route.functionName,
        messageId: message.messageId,
        dequeueCount: message.dequeueCount,
        durationMs: Date.now() - started,
        host: this.options.hostId,
      });
    } catch (err) {
      if (message.dequeueCount >= maxDequeueCount) {
        // The last allowed try failed: poison it now, as Functions does, instead of after one more lease.
        await this.poison(route, message);
        return;
      }
      // Released for a retry after retryVisibilityTimeoutSeconds (the lease would otherwise hold it for visibilityTimeoutSeconds).
      this.logger.warn('queue message failed; it will be redelivered', {
        functionName: route.functionName,
        messageId: message.messageId,
        dequeueCount: message.dequeueCount,
        host: this.options.hostId,
        error: errorMessage(err),
      });
      await route.queue
        .updateMessage(message.messageId, message.popReceipt, undefined, this.options.retryVisibilityTimeoutSeconds ?? 0)
        .catch((updateErr: unknown) =>
          this.logger.warn('could not release a failed queue message; it is retried after its lease', {
            functionName: route.functionName,
            messageId: message.messageId,
            error: errorMessage(updateErr),
          }),
        );
    }
  }

  private async poison(
    route: QueueRoute,
    message: { messageId: string; popReceipt: string; messageText: string; dequeueCount: number },
  ): Promise<void> {
    await route.poisonQueue.createIfNotExists();
    await route.poisonQueue.sendMessage(message.messageText);
    await route.queue.deleteMessage(message.messageId, message.popReceipt);
    this.logger.error('queue message moved to the poison queue', {
      functionName: route.functionName,
      messageId: message.messageId,
      dequeueCount: message.dequeueCount,
      host: this.options.hostId,
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const wake of [...this.wakers]) wake();
    await Promise.allSettled(this.loops);
  }
}
