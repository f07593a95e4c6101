/**
 * AlertOutbox on Azure Table storage.
 *
 * AlertOutbox — PartitionKey `outbox`, RowKey = the entry's sequence (`<occurred at ISO>_<order>_<event id>`, so key
 * order is delivery order): Status (`pending`/`sent`/`deadLettered`), EventId, Subject, Type, EventJson, Attempts,
 * NextAttemptAt, LastError, CreatedAt, SentAt; and PartitionKey `lease`, RowKey `dispatcher`: Holder, LeaseUntil. One partition: changes are few per sweep, and a single partition keeps
 * key order global, which is what lets the dispatcher deliver one device's events in order.
 */
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import type { CloudEvent } from '../domain/alerts/cloud-event';
import { classifyServiceError } from '../errors';
import type { AlertOutbox, OutboxEntry, OutboxRow, OutboxStatus } from '../ports/alert-outbox';
import { retryTransient } from '../retry';
import { mapWithConcurrency } from '../concurrency';
import { isoString as iso, stringValue as str } from './entity-values';
import { readInteger, splitIntoTransactions, withoutUndefined } from './table-clients';
import type { TableSweepStoreOptions } from './table-sweep-store';

const PARTITION = 'outbox';
/** The dispatcher's lease: one row beside the outbox, taken with an ETag condition. */
const LEASE_PARTITION = 'lease';
const LEASE_ROW = 'dispatcher';

function rowFrom(entity: Record<string, unknown>): OutboxRow {
  const row: OutboxRow = {
    sequence: str(entity.rowKey) ?? '',
    event: JSON.parse(str(entity.EventJson) ?? '{}') as CloudEvent,
    status: (str(entity.Status) ?? 'pending') as OutboxStatus,
    attempts: readInteger(entity.Attempts) ?? 0,
    nextAttemptAt: iso(entity.NextAttemptAt) ?? new Date(0).toISOString(),
  };
  const lastError = str(entity.LastError);
  if (lastError !== undefined) row.lastError = lastError;
  if (typeof entity.etag === 'string') row.etag = entity.etag;
  return row;
}

export class TableAlertOutbox implements AlertOutbox {
  constructor(
    private readonly table: TableClient,
    private readonly options: TableSweepStoreOptions,
  ) {}

  private retry<T>(name: string, call: () => Promise<T>): Promise<T> {
    const { retryBudgetMs: budgetMs, sleep, logger } = this.options;
    return retryTransient(call, { budgetMs, operationName: name, sleep, logger, retryMessage: 'table storage call retried' });
  }

  async add(entries: readonly OutboxEntry[], at: Date): Promise<number> {
    const entities = entries.map((entry) =>
      withoutUndefined({
        partitionKey: PARTITION,
        rowKey: entry.sequence,
        Status: 'pending',
        EventId: entry.event.id,
        Subject: entry.event.subject,
        Type: entry.event.type,
        EventJson: JSON.stringify(entry.event),
        Attempts: 0,
        NextAttemptAt: at,
        CreatedAt: at,
      }),
    );
    const unique = [...new Map(entities.map((entity) => [entity.rowKey, entity])).values()];
    const counts = await mapWithConcurrency(
      splitIntoTransactions([unique], (entity) => entity.EventJson.length * 2 + 400),
      4,
      async (chunk) => {
        try {
          // Fast path: a chunk of new events is one request. A transaction fails whole when any row exists already.
          await this.retry('addAlerts', () => this.table.submitTransaction(chunk.map((entity): TransactionAction => ['create', entity])));
          return chunk.length;
        } catch (error) {
          if (classifyServiceError(error).kind !== 'conflict') throw error;
          return this.addOneByOne(chunk);
        }
      },
    );
    const created = counts.reduce((sum, count) => sum + count, 0);
    return created;
  }

  /** Inserts each row that is missing: a redone bucket's events are already there, and the first copy is kept. */
  private async addOneByOne(entities: readonly (Record<string, unknown> & { partitionKey: string; rowKey: string })[]): Promise<number> {
    const created = await mapWithConcurrency(entities, 8, (entity) =>
      this.retry('addAlert', async () => {
        try {
          await this.table.createEntity(entity);
          return true;
        } catch (error) {
          if (classifyServiceError(error).kind === 'conflict') return false;
          throw error;
        }
      }),
    );
    return created.filter(Boolean).length;
  }

  pending(limit: number): Promise<OutboxRow[]> {
    return this.rowsWithStatus('pending', limit);
  }

  deadLettered(limit: number): Promise<OutboxRow[]> {
    return this.rowsWithStatus('deadLettered', limit);
  }

  private rowsWithStatus(status: OutboxStatus, limit: number): Promise<OutboxRow[]> {
    return this.retry(`listAlerts(${status})`, async () => {
      const rows: OutboxRow[] = [];
      const filter = odata`PartitionKey eq ${PARTITION} and Status eq ${status}`;
      for await (const entity of this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
        rows.push(rowFrom(entity));
        if (rows.length >= limit) break;
      }
      return rows;
    });
  }

  markSent(rows: readonly OutboxRow[], at: Date): Promise<void> {
    return this.merge(rows, () => ({ Status: 'sent', SentAt: at }));
  }

  markRetry(rows: readonly OutboxRow[], nextAttemptAt: Date, error: string): Promise<void> {
    return this.merge(rows, (row) => ({ Attempts: row.attempts + 1, NextAttemptAt: nextAttemptAt, LastError: error.slice(0, 2000) }));
  }

  markDeadLettered(rows: readonly OutboxRow[], error: string, at: Date): Promise<void> {
    return this.merge(rows, (row) => ({
      Status: 'deadLettered',
      Attempts: row.attempts + 1,
      LastError: error.slice(0, 2000),
      DeadLetteredAt: at,
    }));
  }

  async purgeSent(before: Date, maxRows: number): Promise<number> {
    const keys = await this.retry('listSentAlerts', async () => {
      const found: string[] = [];
      const filter = odata`PartitionKey eq ${PARTITION} and Status eq ${'sent'} and SentAt lt ${before}`;
      for await (const entity of this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter, select: ['RowKey'] } })) {
        found.push(str(entity.rowKey) ?? '');
        if (found.length >= maxRows) break;
      }
      return found;
    });
    for (const chunk of splitIntoTransactions([keys], () => 200)) {
      const actions: TransactionAction[] = chunk.map((rowKey) => ['delete', { partitionKey: PARTITION, rowKey }]);
      await this.retry('purgeSentAlerts', () => this.table.submitTransaction(actions));
    }
    return keys.length;
  }

  async acquireLease(holder: string, now: Date, until: Date): Promise<boolean> {
    const keys = { partitionKey: LEASE_PARTITION, rowKey: LEASE_ROW };
    const current = await this.retry('readAlertLease', async () => {
      try {
        return await this.table.getEntity<Record<string, unknown>>(keys.partitionKey, keys.rowKey);
      } catch (error) {
        if (classifyServiceError(error).kind === 'notFound') return undefined;
        throw error;
      }
    });
    const leaseUntil = iso(current?.LeaseUntil);
    if (current && str(current.Holder) !== holder && leaseUntil !== undefined && Date.parse(leaseUntil) > now.getTime()) return false;
    const entity = { ...keys, Holder: holder, LeaseUntil: until };
    try {
      await this.retry('takeAlertLease', () =>
        current ? this.table.updateEntity(entity, 'Replace', { etag: current.etag }) : this.table.createEntity(entity),
      );
      return true;
    } catch (error) {
      // Another dispatcher took it between our read and write.
      const kind = classifyServiceError(error).kind;
      if (kind === 'preconditionFailed' || kind === 'conflict') return false;
      throw error;
    }
  }

  async releaseLease(holder: string): Promise<void> {
    const current = await this.table.getEntity<Record<string, unknown>>(LEASE_PARTITION, LEASE_ROW).catch(() => undefined);
    if (!current || str(current.Holder) !== holder) return;
    await this.table
      .updateEntity({ partitionKey: LEASE_PARTITION, rowKey: LEASE_ROW, Holder: holder, LeaseUntil: new Date(0) }, 'Replace', {
        etag: current.etag,
      })
      .catch(() => undefined);
  }

  /** Merges columns into the rows, in ≤100-row transactions (one partition). */
  private async merge(rows: readonly OutboxRow[], columns: (row: OutboxRow) => Record<string, unknown>): Promise<void> {
    for (const chunk of splitIntoTransactions([rows], () => 400)) {
      const actions: TransactionAction[] = chunk.map((row) => [
        'update',
        { partitionKey: PARTITION, rowKey: row.sequence, ...columns(row) },
        'Merge',
      ]);
      await this.retry('updateAlerts', () => this.table.submitTransaction(actions));
    }
  }
}
