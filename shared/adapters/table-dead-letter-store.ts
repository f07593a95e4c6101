/**
 * DeadLetterStore on Azure Table storage.
 *
 * PartitionKey / RowKey = deadLetterKeys(position): the UTC day of the enqueued time, then
 * `<partition>_<sequence number>`, so a replayed event overwrites its own row.
 * | column | EDM type | meaning |
 * |---|---|---|
 * | DeviceId | String | when known |
 * | Reason | String | why the event could not be processed (≤ 32,000 characters) |
 * | Source, Schema | String | `iothub-message-source` / `iothub-message-schema`, when present |
 * | PartitionId | String | Event Hubs partition |
 * | SequenceNumber | Int64 | |
 * | Offset | String | |
 * | EnqueuedTime, RecordedAt | DateTime | |
 * | RawSize | Int32/Int64 | size of the original payload, before any truncation |
 * | RawTruncated | Boolean | true when Raw holds only a prefix of the payload |
 * | Raw, Raw1 … Raw11 | String | the payload as text (binary as `base64:` + base64), in columns of 32,000 characters |
 *
 * Raw is capped at {@link MAX_RAW_CHARS} (12 columns × 32,000 = 384,000 UTF-16 characters ≈ 768 KB),
 * which keeps the entity inside the 1 MiB limit with room for the other columns. Dead letters are for
 * diagnosis, and a 384 K-character prefix is enough to see what arrived.
 */
import type { TableClient, TableEntity } from '@azure/data-tables';

import { mapWithConcurrency } from '../concurrency';
import { silentLogger, type Logger } from '../logger';
import { retryTransient } from '../retry';
import { deadLetterKeys } from '../domain/table-keys';
import type { DeadLetter } from '../domain/types';
import type { DeadLetterStore } from '../ports/dead-letter-store';
import {
  createTableClient,
  MAX_STRING_PROPERTY_CHARS,
  planUpsertTransactions,
  splitStringProperty,
  tableInteger,
  truncateString,
  withoutUndefined,
  type TableClientSettings,
} from './table-clients';

const MAX_RAW_PARTS = 12;
/** Longest payload prefix kept, in UTF-16 code units. */
export const MAX_RAW_CHARS = MAX_RAW_PARTS * MAX_STRING_PROPERTY_CHARS;

export interface TableDeadLetterStoreOptions {
  retryBudgetMs: number;
  /** Transactions in flight at once. Default 4. */
  concurrency?: number;
  logger?: Logger;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** Builds the dead-letter entity (see the schema at the top of this file). */
export function toDeadLetterEntity(letter: DeadLetter): TableEntity<Record<string, unknown>> {
  const { partitionKey, rowKey } = deadLetterKeys(letter.position);
  const raw = truncateString(letter.raw, MAX_RAW_CHARS);
  // Cannot be undefined: `raw` is capped at exactly MAX_RAW_PARTS columns.
  const rawColumns = splitStringProperty('Raw', raw, MAX_RAW_PARTS) ?? {};
  return withoutUndefined<TableEntity<Record<string, unknown>>>({
    partitionKey,
    rowKey,
    DeviceId: letter.deviceId,
    Reason: truncateString(letter.reason, MAX_STRING_PROPERTY_CHARS),
    Source: letter.source,
    Schema: letter.schema,
    PartitionId: letter.position.partitionId,
    SequenceNumber: BigInt(letter.position.sequenceNumber),
    Offset: letter.position.offset,
    EnqueuedTime: letter.position.enqueuedTime,
    RecordedAt: letter.recordedAt,
    RawSize: tableInteger(letter.rawSize),
    RawTruncated: raw.length < letter.raw.length,
    ...rawColumns,
  });
}

/** DeadLetterStore over one table; writes are upserts (Replace) in per-day transactions, retried within the budget. */
export class TableDeadLetterStore implements DeadLetterStore {
  private readonly logger: Logger;

  constructor(
    private readonly table: TableClient,
    private readonly options: TableDeadLetterStoreOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  static fromSettings(settings: TableClientSettings, tableName: string, options: TableDeadLetterStoreOptions): TableDeadLetterStore {
    return new TableDeadLetterStore(createTableClient(settings, tableName), options);
  }

  async record(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const transactions = planUpsertTransactions(letters.map(toDeadLetterEntity));
    await mapWithConcurrency(transactions, this.options.concurrency ?? 4, async (entities) => {
      await retryTransient(() => this.table.submitTransaction(entities.map((entity) => ['upsert', entity, 'Replace'])), {
        budgetMs: this.options.retryBudgetMs,
        operationName: 'recordDeadLetters',
        sleep: this.options.sleep,
        random: this.options.random,
        logger: this.logger,
        retryMessage: 'dead-letter write retried',
        logFields: { operation: 'recordDeadLetters', entities: entities.length },
      });
    });
  }
}
