/**
 * SweepQueue over Azure Storage Queues. Messages are base64-encoded JSON, the encoding the Functions queue trigger
 * expects by default (host.json `extensions.queues.messageEncoding` = base64), so the trigger hands the handler the
 * parsed object.
 */
import { QueueClient } from '@azure/storage-queue';
import { retryTransient } from '../retry';
import type { SweepMessage, SweepQueue } from '../sweep-ports';

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
    await retryTransient(() => this.client.sendMessage(StorageSweepQueue.encode(message), visibilityDelaySeconds ? { visibilityTimeout: visibilityDelaySeconds } : {}), {
      budgetMs: this.options.retryBudgetMs,
      operationName: `enqueue ${message.kind}`,
    });
  }
}

/**
 * Decodes what the queue trigger delivers: the parsed object, its JSON text, or the raw base64 text.
 * @throws Error for anything that is not a sweep message (the trigger's poison handling then takes it).
 */
export function decodeSweepMessage(input: unknown): SweepMessage {
  let value: unknown = input;
  if (typeof value === 'string') {
    const text = value.trim().startsWith('{') ? value : Buffer.from(value, 'base64').toString('utf8');
    value = JSON.parse(text) as unknown;
  }
  if (typeof value !== 'object' || value === null) throw new Error('sweep message must be a JSON object');
  const message = value as Record<string, unknown>;
  const sweepId = message['sweepId'];
  if (typeof sweepId !== 'string' || sweepId === '') throw new Error('sweep message needs a sweepId');
  switch (message['kind']) {
    case 'plan':
    case 'finalize':
      return { kind: message['kind'], sweepId };
    case 'shard': {
      const shard = message['shard'];
      if (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 0) throw new Error('shard message needs a shard number');
      return { kind: 'shard', sweepId, shard };
    }
    case 'importJob': {
      const jobId = message['jobId'];
      if (typeof jobId !== 'string') throw new Error('importJob message needs a jobId');
      return { kind: 'importJob', sweepId, jobId };
    }
    default:
      throw new Error(`unknown sweep message kind ${JSON.stringify(message['kind'])}`);
  }
}
