/**
 * PostureStore on Azure Table storage: one "latest" row per device and an append-only history.
 * The tables' columns and their mapping to the domain types: ./posture-entities.ts.
 */
import { odata, TableClient, type TableEntityResult, type TransactionAction } from '@azure/data-tables';

import { mapWithConcurrency } from '../concurrency';
import { classifyServiceError, InvalidContinuationTokenError } from '../errors';
import { silentLogger, type Logger } from '../logger';
import { retryTransient } from '../retry';
import { historyRange, latestKeys, postureShard } from '../domain/table-keys';
import type { HistoryEntry, LatestPosture } from '../domain/types';
import type { HistoryPage, HistoryQuery, LatestWriteResult, PostureChange, PostureStore, StoredLatest } from '../ports/posture-store';
import { stringValue } from './entity-values';
import { fromHistoryEntity, fromLatestEntity, toHistoryEntity, toLatestEntity } from './posture-entities';
import {
  createTableClient,
  estimateEntityWireBytes,
  planUpsertTransactions,
  splitIntoTransactions,
  type TableClientSettings,
} from './table-clients';

const MAX_HISTORY_PAGE_SIZE = 1000;

/** About 1–2 KB per entry: bounded memory while a partition's active devices stay cached. */
export const DEFAULT_LATEST_CACHE_SIZE = 10_000;

export interface TablePostureStoreOptions {
  /**
   * Time budget per storage call for retrying 429/5xx/timeouts: the only retry layer (build the clients with
   * createTableClient, whose SDK retry is off and whose attempts time out after OUTBOUND_TIMEOUT_MS).
   */
  retryBudgetMs: number;
  /** Transactions in flight at once during appendHistory. Default 4. */
  historyConcurrency?: number;
  /** Latest rows kept per instance to skip a read per device per batch; 0 disables. Default 10,000. */
  latestCacheSize?: number;
  logger?: Logger;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** One device's history rows (optionally within [from, to]) inside its shard partition. */
function historyFilter(deviceId: string, from: Date | undefined, to: Date | undefined): string {
  const range = historyRange(deviceId, from, to);
  return odata`PartitionKey eq ${range.partitionKey} and RowKey ge ${range.lower} and RowKey lt ${range.upperExclusive}`;
}

/** Azure Table storage evaluates at most 15 comparisons per filter: PartitionKey plus 14 RowKeys. */
const MAX_ROWS_PER_LOOKUP = 14;

/** PostureStore over two tables (latest, history). Every call retries 429/5xx/timeouts within `retryBudgetMs`. */
export class TablePostureStore implements PostureStore {
  private readonly logger: Logger;
  /** deviceId → the latest row as this instance last read or wrote it, in least-recently-used order. */
  private readonly cache = new Map<string, StoredLatest>();

  constructor(
    private readonly latestTable: TableClient,
    private readonly historyTable: TableClient,
    private readonly options: TablePostureStoreOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  /** Builds the store from storage settings; the tables must exist (see ensureTables). */
  static fromSettings(
    settings: TableClientSettings,
    tableNames: { latest: string; history: string },
    options: TablePostureStoreOptions,
  ): TablePostureStore {
    return new TablePostureStore(createTableClient(settings, tableNames.latest), createTableClient(settings, tableNames.history), options);
  }

  /**
   * Served from the cache of rows this instance read or wrote last, when present. A cached row can be
   * stale only if another instance wrote since (a partition rebalance); the conditional write then
   * fails with a conflict, the entry is dropped, and the caller re-reads from the table.
   */
  async getLatest(deviceId: string): Promise<StoredLatest | undefined> {
    const cached = this.cache.get(deviceId);
    if (cached) {
      // Re-insert to keep the map in least-recently-used order.
      this.cache.delete(deviceId);
      this.cache.set(deviceId, cached);
      return { posture: { ...cached.posture }, etag: cached.etag };
    }
    return this.readLatest(deviceId);
  }

  /** Always the table's row (and it replaces the cached one): readers that must see every writer's changes. */
  async readLatest(deviceId: string): Promise<StoredLatest | undefined> {
    const { partitionKey, rowKey } = latestKeys(deviceId);
    try {
      const entity = await this.retry('getLatest', deviceId, () =>
        this.latestTable.getEntity<Record<string, unknown>>(partitionKey, rowKey),
      );
      const stored = { posture: fromLatestEntity(entity), etag: entity.etag };
      this.remember(deviceId, stored);
      return { posture: { ...stored.posture }, etag: stored.etag };
    } catch (err) {
      if (classifyServiceError(err).kind === 'notFound') return undefined;
      throw err;
    }
  }

  async writeLatest(posture: LatestPosture, etag: string | undefined): Promise<LatestWriteResult> {
    const entity = toLatestEntity(posture);
    try {
      const response =
        etag === undefined
          ? await this.retry('createLatest', posture.deviceId, () => this.latestTable.createEntity(entity))
          : await this.retry('replaceLatest', posture.deviceId, () => this.latestTable.updateEntity(entity, 'Replace', { etag }));
      if (response.etag) this.remember(posture.deviceId, { posture: { ...posture }, etag: response.etag });
      else this.cache.delete(posture.deviceId);
      return 'written';
    } catch (err) {
      this.cache.delete(posture.deviceId);
      // 404 on replace: the row was deleted after we read it; re-reading leads to a create.
      const kind = classifyServiceError(err).kind;
      if (kind === 'conflict' || kind === 'preconditionFailed' || (kind === 'notFound' && etag !== undefined)) return 'conflict';
      throw err;
    }
  }

  private remember(deviceId: string, stored: StoredLatest): void {
    const capacity = this.options.latestCacheSize ?? DEFAULT_LATEST_CACHE_SIZE;
    if (capacity <= 0) return;
    this.cache.delete(deviceId);
    this.cache.set(deviceId, stored);
    if (this.cache.size > capacity) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }

  /** Cached rows first; the rest with one query per shard and ≤14 devices (the filter comparison limit). */
  async getLatestMany(deviceIds: readonly string[]): Promise<Map<string, StoredLatest>> {
    const found = new Map<string, StoredLatest>();
    const missing = new Map<string, string[]>();
    for (const deviceId of new Set(deviceIds)) {
      const cached = this.cache.get(deviceId);
      if (cached) found.set(deviceId, { posture: { ...cached.posture }, etag: cached.etag });
      else {
        const shard = postureShard(deviceId);
        missing.set(shard, [...(missing.get(shard) ?? []), deviceId]);
      }
    }
    const lookups: { shard: string; deviceIds: string[] }[] = [];
    for (const [shard, ids] of missing) {
      for (let i = 0; i < ids.length; i += MAX_ROWS_PER_LOOKUP) lookups.push({ shard, deviceIds: ids.slice(i, i + MAX_ROWS_PER_LOOKUP) });
    }
    await mapWithConcurrency(lookups, this.options.historyConcurrency ?? 4, async ({ shard, deviceIds: ids }) => {
      const rowFilter = ids.map((id) => odata`RowKey eq ${latestKeys(id).rowKey}`).join(' or ');
      const filter = `${odata`PartitionKey eq ${shard}`} and (${rowFilter})`;
      const entities = await this.retry('getLatestMany', ids[0] ?? '', async () => {
        const rows: TableEntityResult<Record<string, unknown>>[] = [];
        for await (const entity of this.latestTable.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) rows.push(entity);
        return rows;
      });
      for (const entity of entities) {
        const stored = { posture: fromLatestEntity(entity), etag: entity.etag };
        this.remember(stored.posture.deviceId, stored);
        found.set(stored.posture.deviceId, { posture: { ...stored.posture }, etag: stored.etag });
      }
    });
    return found;
  }

  /**
   * History rows as upsert transactions per shard; then latest rows as transactions per shard, each
   * row conditional on its etag (create when there was none). A failed condition rolls back its whole
   * transaction, so every device in it is reported as a conflict and retried alone by the caller.
   */
  async commit(changes: readonly PostureChange[]): Promise<{ conflicts: string[] }> {
    await this.appendHistory(changes.flatMap((change) => change.history));
    const byShard = new Map<string, PostureChange[]>();
    for (const change of changes) {
      const shard = postureShard(change.latest.deviceId);
      byShard.set(shard, [...(byShard.get(shard) ?? []), change]);
    }
    const transactions = splitIntoTransactions([...byShard.values()], (change) => estimateEntityWireBytes(toLatestEntity(change.latest)));
    const conflicts: string[] = [];
    await mapWithConcurrency(transactions, this.options.historyConcurrency ?? 4, async (group) => {
      const actions: TransactionAction[] = group.map((change) => {
        const entity = toLatestEntity(change.latest);
        return change.etag === undefined ? ['create', entity] : ['update', entity, 'Replace', { etag: change.etag }];
      });
      try {
        const response = await this.retry('commitLatest', group[0]!.latest.deviceId, () => this.latestTable.submitTransaction(actions));
        group.forEach((change, index) => {
          const etag = response.subResponses[index]?.etag;
          if (etag) this.remember(change.latest.deviceId, { posture: { ...change.latest }, etag });
          else this.cache.delete(change.latest.deviceId);
        });
      } catch (err) {
        const kind = classifyServiceError(err).kind;
        if (kind !== 'conflict' && kind !== 'preconditionFailed' && kind !== 'notFound') throw err;
        for (const change of group) {
          this.cache.delete(change.latest.deviceId);
          conflicts.push(change.latest.deviceId);
        }
      }
    });
    return { conflicts };
  }

  async appendHistory(entries: HistoryEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const transactions = planUpsertTransactions(entries.map(toHistoryEntity));
    await mapWithConcurrency(transactions, this.options.historyConcurrency ?? 4, async (entities) => {
      const deviceId = stringValue(entities[0]?.DeviceId) ?? '';
      // A one-row change set costs more than a plain upsert and buys no atomicity.
      if (entities.length === 1) await this.retry('appendHistory', deviceId, () => this.historyTable.upsertEntity(entities[0]!, 'Replace'));
      else
        await this.retry('appendHistory', deviceId, () =>
          this.historyTable.submitTransaction(entities.map((entity) => ['upsert', entity, 'Replace'])),
        );
    });
  }

  async listHistory(deviceId: string, query: HistoryQuery): Promise<HistoryPage> {
    if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_HISTORY_PAGE_SIZE) {
      throw new RangeError(`limit must be an integer between 1 and ${MAX_HISTORY_PAGE_SIZE}, got ${query.limit}`);
    }
    if (query.continuationToken !== undefined) assertTableContinuationToken(query.continuationToken);
    const filter = historyFilter(deviceId, query.from, query.to);
    const page = await this.retry('listHistory', deviceId, async () => {
      const pages = this.historyTable
        .listEntities<Record<string, unknown>>({ queryOptions: { filter } })
        .byPage({ maxPageSize: query.limit, continuationToken: query.continuationToken });
      const first = await pages.next();
      return first.done ? undefined : first.value;
    });
    const entries = (page ?? []).map((entity: TableEntityResult<Record<string, unknown>>) => fromHistoryEntity(entity));
    return page?.continuationToken ? { entries, continuationToken: page.continuationToken } : { entries };
  }

  private retry<T>(operation: string, deviceId: string, call: () => Promise<T>): Promise<T> {
    return retryTransient(call, {
      budgetMs: this.options.retryBudgetMs,
      operationName: `${operation}(${deviceId})`,
      sleep: this.options.sleep,
      random: this.options.random,
      logger: this.logger,
      retryMessage: 'table storage call retried',
      logFields: { operation, deviceId },
    });
  }
}

/** @azure/data-tables tokens are base64 JSON naming the next partition and row; anything else is the caller's mistake. */
function assertTableContinuationToken(token: string): void {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { nextPartitionKey?: unknown }).nextPartitionKey === 'string')
      return;
  } catch {
    // reported below
  }
  throw new InvalidContinuationTokenError();
}
