/**
 * AlertSink over an HTTPS webhook: one POST per batch in CloudEvents' batched JSON mode (a JSON array, content type
 * `application/cloudevents-batch+json`, cloudevents spec http-protocol-binding.md §3.3), the body signed with
 * HMAC-SHA256 (X-TwinGuard-Signature, shared/domain/alerts/webhook-signature.ts). Any 2xx is delivered; 429 and 5xx
 * are transient with the receiver's Retry-After; other statuses are permanent. Neither the secret nor the signature
 * appear in an error: errors name the status and the host only.
 */
import { CLOUDEVENT_BATCH_CONTENT_TYPE, type CloudEvent } from '../domain/alerts/cloud-event';
import { SIGNATURE_HEADER, signBody } from '../domain/alerts/webhook-signature';
import { parseRetryAfter, PermanentError, TransientError } from '../errors';
import type { AlertSink } from '../ports/alert-sink';

export interface WebhookAlertSinkOptions {
  url: string;
  secret: string;
  /** Per request (OUTBOUND_TIMEOUT_MS). */
  timeoutMs: number;
}

export class WebhookAlertSink implements AlertSink {
  readonly kind = 'webhook' as const;
  readonly maxBatchEvents = 100;
  readonly maxBatchBytes = 1024 * 1024;
  private readonly host: string;

  constructor(private readonly options: WebhookAlertSinkOptions) {
    this.host = new URL(options.url).host;
  }

  async send(events: readonly CloudEvent[]): Promise<void> {
    const body = JSON.stringify(events);
    let response: Response;
    try {
      response = await fetch(this.options.url, {
        method: 'POST',
        headers: {
          'content-type': CLOUDEVENT_BATCH_CONTENT_TYPE,
          [SIGNATURE_HEADER]: signBody(body, this.options.secret),
        },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      // Refused connections, resets, DNS failures and timeouts: the receiver may be back later.
      throw new TransientError(`alert webhook ${this.host} unreachable: ${error instanceof Error ? error.name : 'error'}`, {
        cause: error,
      });
    }
    // The body is not needed; reading it frees the connection for reuse.
    await response.arrayBuffer().catch(() => undefined);
    if (response.ok) return;
    const status = response.status;
    if (status === 429 || status >= 500) {
      const retryAfter = response.headers.get('retry-after');
      const retryAfterMs = retryAfter === null ? undefined : parseRetryAfter(retryAfter, Date.now());
      throw new TransientError(`alert webhook ${this.host} answered ${status}`, { statusCode: status, retryAfterMs });
    }
    throw new PermanentError(`alert webhook ${this.host} answered ${status}`, { statusCode: status });
  }
}
