/**
 * The alert outbox: events written in the same step as the findings that cause them, delivered later by the
 * alerts-dispatch timer. Real adapter: shared/adapters/table-alert-outbox.ts.
 */
import type { CloudEvent } from '../domain/alerts/cloud-event';

export type OutboxStatus = 'pending' | 'sent' | 'deadLettered';

export interface OutboxEntry {
  event: CloudEvent;
  /**
   * Sort key (deterministic for the event): rows are delivered in this order, so one device's events, which carry
   * the time of the sweep that found them, leave in the order they happened.
   */
  sequence: string;
}

export interface OutboxRow extends OutboxEntry {
  status: OutboxStatus;
  /** Delivery attempts so far. */
  attempts: number;
  /** ISO: not before this instant (backoff, Retry-After). */
  nextAttemptAt: string;
  lastError?: string;
  etag?: string;
}

export interface AlertOutbox {
  /** Inserts the entries not yet present (same sequence = same event); returns how many were new. */
  add(entries: readonly OutboxEntry[], at: Date): Promise<number>;
  /** The oldest pending rows, in sequence order, at most `limit`. */
  pending(limit: number): Promise<OutboxRow[]>;
  markSent(rows: readonly OutboxRow[], at: Date): Promise<void>;
  /** Records a failed attempt: attempts, the time of the next one and the error (never a secret). */
  markRetry(rows: readonly OutboxRow[], nextAttemptAt: Date, error: string): Promise<void>;
  markDeadLettered(rows: readonly OutboxRow[], error: string, at: Date): Promise<void>;
  deadLettered(limit: number): Promise<OutboxRow[]>;
  /** Deletes at most `maxRows` sent rows sent before `before`; returns how many. */
  purgeSent(before: Date, maxRows: number): Promise<number>;
  /**
   * Takes the dispatcher's lease until `until` when it is free, expired or already `holder`'s; false when another
   * holder has it. One dispatcher at a time keeps batches in order when several hosts run the timer.
   */
  acquireLease(holder: string, now: Date, until: Date): Promise<boolean>;
  /** Gives the lease up early (only if `holder` still has it). */
  releaseLease(holder: string): Promise<void>;
}
