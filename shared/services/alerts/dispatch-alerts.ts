/**
 * Delivers the outbox: the oldest pending events, in key order, batched up to the sink's limits, one call per batch.
 * The one owner of alert retries: a failed batch's events wait (doubling from 30 s, at least the sink's Retry-After)
 * and are dead-lettered in the outbox once ALERT_MAX_ATTEMPTS attempts failed. A device with an event waiting for its
 * retry gets none of its later events delivered before it, so each device's events arrive in order; a failure ends the
 * round, so nothing overtakes the failed batch. At-least-once: a crash after a send and before it is recorded sends
 * the batch again, with the same event ids, for receivers to deduplicate.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { classifyServiceError, errorMessage } from '../../errors';
import type { Logger } from '../../logger';
import type { AlertOutbox, OutboxRow } from '../../ports/alert-outbox';
import type { AlertSink } from '../../ports/alert-sink';
import type { SweepStore } from '../../ports/sweep-store';
import type { AlertRecorder } from './alert-recorder';
import { recordSweepDropAlert } from './sweep-drop-alert';

const FIRST_RETRY_MS = 30_000;
const MAX_RETRY_MS = 3_600_000;
const SENT_KEPT_MS = 7 * 24 * 3_600_000;
/** Pending rows read per round: bounds memory; the rest waits for the next round, still in order. */
const MAX_ROWS_PER_ROUND = 2_000;

export interface AlertDispatchServices {
  outbox: AlertOutbox;
  sink: AlertSink;
  sweeps: Pick<SweepStore, 'listRecentRuns'>;
  source: string;
  complianceDropPoints: number;
  maxAttempts: number;
  now: () => Date;
  logger: Logger;
  /** Who holds the dispatch lease (default: this process). */
  holder?: string;
}

const DISPATCHER_ID = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;

export interface DispatchResult {
  sent: number;
  batches: number;
  retried: number;
  deadLettered: number;
  waiting: number;
}

/** The delay before attempt `attempt + 1` after `attempt` failed ones. */
export function retryDelayMs(attempt: number, retryAfterMs: number | undefined): number {
  const backoff = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, attempt - 1));
  return Math.max(backoff, retryAfterMs ?? 0);
}

/** Rows that may leave now, in order: a device's rows stop at its first one still waiting for a retry. */
export function dueRows(rows: readonly OutboxRow[], now: Date): OutboxRow[] {
  const held = new Set<string>();
  const due: OutboxRow[] = [];
  for (const row of rows) {
    const key = row.event.subject ?? '';
    if (held.has(key)) continue;
    if (Date.parse(row.nextAttemptAt) > now.getTime()) {
      held.add(key);
      continue;
    }
    due.push(row);
  }
  return due;
}

export function batchesOf(rows: readonly OutboxRow[], maxEvents: number, maxBytes: number): OutboxRow[][] {
  const batches: OutboxRow[][] = [];
  let current: OutboxRow[] = [];
  let bytes = 2;
  for (const row of rows) {
    const size = Buffer.byteLength(JSON.stringify(row.event)) + 1;
    if (current.length > 0 && (current.length >= maxEvents || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 2;
    }
    current.push(row);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Longer than a round can take (20 batches, each within OUTBOUND_TIMEOUT_MS), so a lease never ends mid-round. */
const LEASE_MS = 5 * 60_000;

/**
 * One round, under the outbox's lease: with several hosts running the timer, one delivers and the others skip
 * (`skipped`), so batches never leave out of order from two dispatchers at once.
 */
export async function dispatchAlerts(services: AlertDispatchServices): Promise<DispatchResult & { skipped?: true }> {
  const holder = services.holder ?? DISPATCHER_ID;
  const start = services.now();
  if (!(await services.outbox.acquireLease(holder, start, new Date(start.getTime() + LEASE_MS))))
    return { sent: 0, batches: 0, retried: 0, deadLettered: 0, waiting: 0, skipped: true };
  try {
    return await dispatchRound(services);
  } finally {
    await services.outbox.releaseLease(holder);
  }
}

async function dispatchRound(services: AlertDispatchServices): Promise<DispatchResult> {
  const recorder: AlertRecorder = { outbox: services.outbox, source: services.source };
  await recordSweepDropAlert(services.sweeps, recorder, services.complianceDropPoints, services.now());
  const now = services.now();
  const pending = await services.outbox.pending(MAX_ROWS_PER_ROUND);
  const due = dueRows(pending, now);
  const result: DispatchResult = { sent: 0, batches: 0, retried: 0, deadLettered: 0, waiting: pending.length - due.length };
  for (const batch of batchesOf(due, services.sink.maxBatchEvents, services.sink.maxBatchBytes)) {
    try {
      await services.sink.send(batch.map((row) => row.event));
    } catch (error) {
      const failure = classifyServiceError(error);
      const message = errorMessage(error);
      const exhausted = batch.filter((row) => row.attempts + 1 >= services.maxAttempts);
      const retrying = batch.filter((row) => row.attempts + 1 < services.maxAttempts);
      if (exhausted.length > 0) await services.outbox.markDeadLettered(exhausted, message, now);
      // One delay for the batch: its rows were batched together and are retried together.
      const attempt = Math.max(0, ...retrying.map((row) => row.attempts)) + 1;
      if (retrying.length > 0)
        await services.outbox.markRetry(retrying, new Date(now.getTime() + retryDelayMs(attempt, failure.retryAfterMs)), message);
      result.retried += retrying.length;
      result.deadLettered += exhausted.length;
      services.logger.warn('alert delivery failed', {
        sink: services.sink.kind,
        events: batch.length,
        deadLettered: exhausted.length,
        statusCode: failure.statusCode,
        error: message,
      });
      break;
    }
    await services.outbox.markSent(batch, services.now());
    result.sent += batch.length;
    result.batches += 1;
  }
  await services.outbox.purgeSent(new Date(now.getTime() - SENT_KEPT_MS), 1000);
  return result;
}
