/**
 * SweepQueue over Azure Storage Queues. Messages are base64-encoded JSON, the encoding the Functions queue trigger
 * expects by default (host.json `extensions.queues.messageEncoding` = base64), so the trigger hands the handler the
 * parsed object.
 */
import { QueueClient } from '@azure/storage-queue';
import { retryTransient } from '../retry';
import type { SweepMessage, SweepQueue } from '../ports/sweep-queue';

export class StorageSweepQueue implements SweepQueue {
  private created: Promise<unknown> | undefined;

  constructor(
    private readonly client: QueueClient,
    private readonly options: { retryBudgetMs: number },
  ) {}

  static fromConnectionString(connectionString: string, queueName: string, options: { retryBudgetMs: number }): StorageSweepQueue {
    return new StorageSweepQueue(new QueueClient(connectionString, queueName), options);
  }

  /** Encodes a message exactly as send() does (tests and tools that enqueue by hand use it). */
  static encode(message: SweepMessage): string {
    return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
  }

  async send(message: SweepMessage, visibilityDelaySeconds?: number): Promise<void> {
    this.created ??= this.client.createIfNotExists().catch((error: unknown) => {
      this.created = undefined;
      throw error;
    });
    await this.created;
    await retryTransient(
      () =>
        this.client.sendMessage(
          StorageSweepQueue.encode(message),
          visibilityDelaySeconds ? { visibilityTimeout: visibilityDelaySeconds } : {},
        ),
      {
        budgetMs: this.options.retryBudgetMs,
        operationName: `enqueue ${message.kind}`,
      },
    );
  }
}
