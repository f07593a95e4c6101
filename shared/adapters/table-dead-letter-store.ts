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
import { classifyServiceError, InvalidContinuationTokenError } from '../errors';
import { decodePagingToken, encodePagingToken, hasOnlyKeys } from '../domain/paging-token';
import type { DeadLetterReader, DeadLetterStore, DeadLetterSummary } from '../ports/dead-letter-store';
import { isoString, stringValue } from './entity-values';
import {
  createTableClient,
  MAX_STRING_PROPERTY_CHARS,
  planUpsertTransactions,
  readInteger,
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

/** Int32 as a number, Int64 as the SDK hands it out (`{ type: 'Int64', value: '…' }`, or a bigint / string). */
function integerValue(value: unknown): number | undefined {
  if (typeof value === 'object' && value !== null && typeof (value as { value?: unknown }).value === 'string')
    return readInteger((value as { value: string }).value);
  return readInteger(value);
}

/** The dead-letter paging token: base64 JSON `{ t: <the Table service's token> }`. */
function decodeDeadLetterToken(token: string): string {
  const decoded = decodePagingToken(token);
  if (!decoded || !hasOnlyKeys(decoded, ['t']) || typeof decoded['t'] !== 'string' || decoded['t'].length === 0)
    throw new InvalidContinuationTokenError();
  return decoded['t'];
}

/** The list view of a row: Raw (the first column) cut to the preview; the other Raw columns are never read. */
export function deadLetterSummaryFrom(entity: Record<string, unknown>, previewChars: number): DeadLetterSummary {
  const raw = stringValue(entity['Raw']) ?? '';
  const rawSize = integerValue(entity['RawSize']) ?? raw.length;
  const preview = raw.slice(0, previewChars);
  const summary: DeadLetterSummary = {
    partitionId: stringValue(entity['PartitionId']) ?? '',
    sequenceNumber: integerValue(entity['SequenceNumber']) ?? 0,
    offset: stringValue(entity['Offset']) ?? '',
    enqueuedTime: isoString(entity['EnqueuedTime']) ?? '',
    recordedAt: isoString(entity['RecordedAt']) ?? '',
    reason: stringValue(entity['Reason']) ?? '',
    rawSize,
    rawPreview: preview,
    // A full Raw column means Raw1… may follow (they are not read here).
    rawPreviewTruncated: preview.length < raw.length || raw.length >= MAX_STRING_PROPERTY_CHARS || entity['RawTruncated'] === true,
  };
  for (const [column, key] of [
    ['DeviceId', 'deviceId'],
    ['Source', 'source'],
    ['Schema', 'schema'],
  ] as const) {
    const value = stringValue(entity[column]);
    if (value !== undefined) summary[key] = value;
  }
  return summary;
}

/** Columns the list reads: everything but Raw1 … Raw11. */
const SUMMARY_COLUMNS = [
  'PartitionId',
  'SequenceNumber',
  'Offset',
  'EnqueuedTime',
  'RecordedAt',
  'DeviceId',
  'Reason',
  'Source',
  'Schema',
  'RawSize',
  'RawTruncated',
  'Raw',
];

/** DeadLetterStore over one table; writes are upserts (Replace) in per-day transactions, retried within the budget. */
export class TableDeadLetterStore implements DeadLetterStore, DeadLetterReader {
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

  async list(query: {
    limit: number;
    previewChars: number;
    continuationToken?: string;
  }): Promise<{ letters: DeadLetterSummary[]; continuationToken?: string }> {
    const tableToken = query.continuationToken === undefined ? undefined : decodeDeadLetterToken(query.continuationToken);
    const page = await this.retry('listDeadLetters', async () => {
      const pages = this.table
        .listEntities<Record<string, unknown>>({ queryOptions: { select: SUMMARY_COLUMNS } })
        .byPage({ maxPageSize: query.limit, continuationToken: tableToken });
      const first = await pages.next();
      return first.done ? undefined : first.value;
    }).catch((error: unknown) => {
      if (tableToken !== undefined && classifyServiceError(error).kind === 'badRequest') throw new InvalidContinuationTokenError();
      throw error;
    });
    const letters = (page ?? []).slice(0, query.limit).map((entity) => deadLetterSummaryFrom(entity, query.previewChars));
    return page?.continuationToken ? { letters, continuationToken: encodePagingToken({ t: page.continuationToken }) } : { letters };
  }

  /** Counts keys only (1,000 a page), stopping at the cap. */
  async count(cap: number): Promise<{ count: number; capped: boolean }> {
    return this.retry('countDeadLetters', async () => {
      let count = 0;
      for await (const page of this.table.listEntities({ queryOptions: { select: ['PartitionKey'] } }).byPage({ maxPageSize: 1000 })) {
        count += page.length;
        if (count >= cap) return { count: cap, capped: true };
      }
      return { count, capped: false };
    });
  }

  private retry<T>(operationName: string, action: () => Promise<T>): Promise<T> {
    return retryTransient(action, {
      budgetMs: this.options.retryBudgetMs,
      operationName,
      sleep: this.options.sleep,
      random: this.options.random,
      logger: this.logger,
      retryMessage: 'dead-letter read retried',
      logFields: { operation: operationName },
    });
  }
}
