/**
 * Where alerts go: an Event Grid custom topic, a Storage Queue or an HTTPS webhook (shared/adapters/*-alert-sink.ts).
 * One call delivers one batch, in order. A failure throws; `classifyServiceError` decides whether it is worth a retry
 * (429, 5xx, timeouts) and which Retry-After the service asked for.
 */
import type { CloudEvent } from '../domain/alerts/cloud-event';

export interface AlertSink {
  readonly kind: 'eventGrid' | 'queue' | 'webhook';
  /** Most events one call may carry (and the byte budget of the serialized batch). */
  readonly maxBatchEvents: number;
  readonly maxBatchBytes: number;
  send(events: readonly CloudEvent[]): Promise<void>;
}
