/**
 * The outbox key of an event: `<occurred at ISO>_<order>_<event id>`. Derived from the event alone, so the same event
 * computed twice lands on the same row; ordered by time first, so one device's events leave in the order they
 * happened (order 0: sweep-wide, 1: a device's compliance change, 2: a notify mitigation).
 */
import type { CloudEvent } from '../../domain/alerts/cloud-event';
import type { OutboxEntry } from '../../ports/alert-outbox';

export type OutboxOrder = 0 | 1 | 2;

export function outboxEntry(event: CloudEvent, order: OutboxOrder): OutboxEntry {
  return { event, sequence: `${event.time}_${order}_${event.id}` };
}
