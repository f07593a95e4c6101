/**
 * SweepQueue over Azure Storage Queues. Messages are base64-encoded JSON, the encoding the Functions queue trigger
 * expects by default (host.json `extensions.queues.messageEncoding` = base64), so the trigger hands the handler the
 * parsed object. Every call (the queue's creation included) is retried by retryTransient within `retryBudgetMs`, each
 * attempt aborted after `timeoutMs`; the client itself does not retry (storage-clients.ts).
 */
import type { QueueClient } from '@azure/storage-queue';
import type { Logger } from '../logger';
import { retryTransient } from '../retry';
import type { SweepMessage, SweepQueue } from '../ports/sweep-queue';
import { DEFAULT_OUTBOUND_TIMEOUT_MS } from './outbound-timeout-policy';
import { createQueueClient } from './storage-clients';

export interface StorageSweepQueueOptions {
  retryBudgetMs: number;
  /** Per-attempt timeout (OUTBOUND_TIMEOUT_MS). Default 10,000 ms. */
  timeoutMs?: number;
  logger?: Logger;
  sleep?: (ms: number) => Promise<void>;
}

export class StorageSweepQueue implements SweepQueue {
  private created: Promise<unknown> | undefined;

  constructor(
    private readonly client: QueueClient,
    private readonly options: StorageSweepQueueOptions,
  ) {}

  static fromConnectionString(connectionString: string, queueName: string, options: StorageSweepQueueOptions): StorageSweepQueue {
    return new StorageSweepQueue(createQueueClient(connectionString, queueName, { timeoutMs: options.timeoutMs }), options);
  }

  /** Encodes a message exactly as send() does (tests and tools that enqueue by hand use it). */
  static encode(message: SweepMessage): string {
    return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
  }

  async send(message: SweepMessage, visibilityDelaySeconds?: number): Promise<void> {
    this.created ??= this.retry('createQueue', (abortSignal) => this.client.createIfNotExists({ abortSignal })).catch((error: unknown) => {
      this.created = undefined;
      throw error;
    });
    await this.created;
    const visibility = visibilityDelaySeconds ? { visibilityTimeout: visibilityDelaySeconds } : {};
    await this.retry(`enqueue ${message.kind}`, (abortSignal) =>
      this.client.sendMessage(StorageSweepQueue.encode(message), { ...visibility, abortSignal }),
    );
  }

  private retry<T>(operation: string, call: (abortSignal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    return retryTransient((_attempt, signal) => call(signal), {
      budgetMs: this.options.retryBudgetMs,
      attemptTimeoutMs: this.options.timeoutMs ?? DEFAULT_OUTBOUND_TIMEOUT_MS,
      operationName: operation,
      logger: this.options.logger,
      retryMessage: 'queue storage call retried',
      sleep: this.options.sleep,
    });
  }
}
