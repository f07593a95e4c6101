/**
 * AlertSink over an Azure Storage Queue (in AzureWebJobsStorage): one message per batch, the batch as CloudEvents'
 * JSON array, base64-encoded as the Functions queue trigger expects by default. A message holds 64 KiB, so a batch is
 * kept under 48 KiB of JSON. The client's own retry is off (storage-clients.ts); the dispatcher owns retries.
 */
import type { QueueClient } from '@azure/storage-queue';
import type { CloudEvent } from '../domain/alerts/cloud-event';
import type { AlertSink } from '../ports/alert-sink';

export class QueueAlertSink implements AlertSink {
  readonly kind = 'queue' as const;
  readonly maxBatchEvents = 100;
  readonly maxBatchBytes = 48 * 1024;
  private created = false;

  constructor(
    private readonly queue: QueueClient,
    private readonly timeoutMs: number,
  ) {}

  async send(events: readonly CloudEvent[]): Promise<void> {
    if (!this.created) {
      await this.queue.createIfNotExists({ abortSignal: AbortSignal.timeout(this.timeoutMs) });
      this.created = true;
    }
    const text = Buffer.from(JSON.stringify(events), 'utf8').toString('base64');
    await this.queue.sendMessage(text, { abortSignal: AbortSignal.timeout(this.timeoutMs) });
  }
}
