/**
 * PostureStore on Azure Table storage: one "latest" row per device and an append-only history.
 * Operators query both tables directly, so columns are readable and typed.
 *
 * Latest table — PartitionKey = shard `00`–`15` (postureShard(deviceId)), RowKey = encodeKeySegment(deviceId):
 * | column | EDM type | meaning |
 * |---|---|---|
 * | DeviceId | String | raw device ID (the RowKey is escaped: `%`, `#`, `?`, `/`, `\\` as %XX) |
 * | ModuleId | String | security module ID |
 * | ModulePresent, DeviceDeleted | Boolean | |
 * | AuthType | String | `sas` / `selfSigned` / `certificateAuthority` / `none` (absent when unknown) |
 * | TwinVersion, DesiredVersion, ReportedVersion | Int32 (Int64 beyond 2^31) | |
 * | ReportedLastUpdated | DateTime | reported `$metadata.$lastUpdated` (read back at millisecond precision) |
 * | ConfigurationState | String | `inSync` / `drifted` / `pending` / `unknown` |
 * | DriftedKeys, InvalidFields | String | JSON array, e.g. `["hub_resource_id"]` (keys may contain commas) |
 * | AgentState | String | micro agent `latest_state` |
 * | Provisioning | String | last provisioning outcome |
 * | UpdatedAt | DateTime | time of the newest event applied |
 * | DesiredJson, ReportedJson | String | JSON of the sections; beyond 32,000 characters continued in DesiredJson1, DesiredJson2, … (at most 8 columns each) |
 * | FindingsJson | String | JSON array of the last sweep's findings `[{ruleId, severity, status, message}]` (continued like DesiredJson) |
 * | LastSweepId | String | sweep that last changed FindingsJson / Compliant |
 * | Compliant | Boolean | no violation in the last sweep |
 * | SchemaVersion | Int32 | 2 |
 *
 * History table — PartitionKey = postureShard(deviceId), RowKey = `<encodeKeySegment(deviceId)>|<historyRowKey(at,
 * partitionId, sequenceNumber)>` (a device's rows contiguous, newest first; deterministic, so a replay overwrites):
 * | column | EDM type | meaning |
 * |---|---|---|
 * | DeviceId, ModuleId | String | raw IDs |
 * | At | DateTime | event time |
 * | Kind | String | HistoryKind |
 * | Summary | String | human-readable |
 * | PartitionId | String | Event Hubs partition |
 * | SequenceNumber | Int64 | query as `SequenceNumber ge 42L` |
 * | TwinVersion, ReportedVersion, DesiredVersion | Int32 (Int64 beyond 2^31) | |
 * | ChangeJson | String | the change as JSON (continued in ChangeJson1, … like DesiredJson) |
 * | ModulePresent | Boolean | posture after the entry |
 * | ConfigurationState, AgentState, AuthType | String | posture after the entry |
 * | DriftedKeys, InvalidFields | String | JSON arrays, posture after the entry |
 * | SchemaVersion | Int32 | 2 |
 */
import { odata, TableClient, type TableEntity, type TableEntityResult, type TransactionAction } from '@azure/data-tables';

import { mapWithConcurrency } from '../concurrency';
import { classifyServiceError, InvalidContinuationTokenError, PermanentError } from '../errors';
import { silentLogger, type Logger } from '../logger';
import { retryTransient } from '../retry';
import { historyKeys, historyRange, latestKeys, postureShard } from '../domain/table-keys';
import type { AuthenticationType } from '../domain/authentication-type';
import type { ConfigurationState, HistoryEntry, HistoryKind, JsonObject, LatestPosture, PostureFinding, ProvisioningStatus } from '../domain/types';
import type { HistoryPage, HistoryQuery, LatestWriteResult, PostureChange, PostureStore, StoredLatest } from '../ports/posture-store';
import {
  createTableClient,
  estimateEntityWireBytes,
  joinStringProperty,
  planUpsertTransactions,
  readInteger,
  splitIntoTransactions,
  splitStringProperty,
  tableInteger,
  withoutUndefined,
  type TableClientSettings,
} from './table-clients';

/** 2: rows sharded over 16 partitions (postureShard) instead of one partition per device. */
export const POSTURE_SCHEMA_VERSION = 2;
/** Columns per JSON section: 8 × 32,000 characters ≈ 500 KB as UTF-16, inside the 1 MiB entity limit. */
const MAX_JSON_PARTS = 8;
const MAX_HISTORY_PAGE_SIZE = 1000;

type Entity = TableEntity<Record<string, unknown>>;

/** About 1–2 KB per entry: bounded memory while a partition's active devices stay cached. */
export const DEFAULT_LATEST_CACHE_SIZE = 10_000;

export interface TablePostureStoreOptions {
  /** Time budget per storage call for retrying 429/5xx/timeouts. */
  retryBudgetMs: number;
  /** Transactions in flight at once during appendHistory. Default 4. */
  historyConcurrency?: number;
  /** Latest rows kept per instance to skip a read per device per batch; 0 disables. Default 10,000. */
  latestCacheSize?: number;
  logger?: Logger;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

function isoOrUndefined(value: unknown): string | undefined {
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : undefined;
}

function dateColumn(iso: string | undefined): Date | undefined {
  if (iso === undefined) return undefined;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function stringColumn(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function stringArrayColumn(value: unknown): string[] {
  if (typeof value !== 'string' || value === '') return [];
  const parsed: unknown = JSON.parse(value);
  return Array.isArray(parsed) ? parsed.filter((item): item is string => typeof item === 'string') : [];
}

function jsonColumns(name: string, value: JsonObject | undefined, deviceId: string): Record<string, string> {
  if (value === undefined) return {};
  const columns = splitStringProperty(name, JSON.stringify(value), MAX_JSON_PARTS);
  if (!columns) throw new PermanentError(`${name} for device ${deviceId} exceeds ${MAX_JSON_PARTS} columns of 32,000 characters`);
  return columns;
}

function parseJsonObject(text: string | undefined): JsonObject | undefined {
  if (text === undefined) return undefined;
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as JsonObject) : undefined;
}

function findingsColumns(findings: PostureFinding[], deviceId: string): Record<string, string> {
  const columns = splitStringProperty('FindingsJson', JSON.stringify(findings), MAX_JSON_PARTS);
  if (!columns) throw new PermanentError(`FindingsJson for device ${deviceId} exceeds ${MAX_JSON_PARTS} columns of 32,000 characters`);
  return columns;
}

function parseFindings(text: string | undefined): PostureFinding[] | undefined {
  if (text === undefined) return undefined;
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? (parsed as PostureFinding[]) : undefined;
}

/** Builds the latest-table entity for a posture (see the schema at the top of this file). */
export function toLatestEntity(posture: LatestPosture): Entity {
  return withoutUndefined<Entity>({
    ...latestKeys(posture.deviceId),
    DeviceId: posture.deviceId,
    ModuleId: posture.moduleId,
    ModulePresent: posture.modulePresent,
    DeviceDeleted: posture.deviceDeleted,
    AuthType: posture.authType,
    TwinVersion: tableInteger(posture.twinVersion),
    DesiredVersion: tableInteger(posture.desiredVersion),
    ReportedVersion: tableInteger(posture.reportedVersion),
    ReportedLastUpdated: dateColumn(posture.reportedLastUpdated),
    ConfigurationState: posture.configurationState,
    DriftedKeys: JSON.stringify(posture.driftedKeys),
    AgentState: posture.agentState,
    InvalidFields: JSON.stringify(posture.invalidFields),
    Provisioning: posture.provisioning,
    UpdatedAt: dateColumn(posture.updatedAt),
    ...jsonColumns('DesiredJson', posture.desired, posture.deviceId),
    ...jsonColumns('ReportedJson', posture.reported, posture.deviceId),
    ...(posture.findings === undefined ? {} : findingsColumns(posture.findings, posture.deviceId)),
    LastSweepId: posture.lastSweepId,
    Compliant: posture.compliant,
    SchemaVersion: POSTURE_SCHEMA_VERSION,
  });
}

/** Inverse of {@link toLatestEntity}. Dates come back at millisecond precision. */
export function fromLatestEntity(entity: Record<string, unknown>): LatestPosture {
  const posture: LatestPosture = {
    deviceId: stringColumn(entity.DeviceId) ?? '',
    moduleId: stringColumn(entity.ModuleId) ?? '',
    modulePresent: entity.ModulePresent === true,
    deviceDeleted: entity.DeviceDeleted === true,
    authType: stringColumn(entity.AuthType) as AuthenticationType | undefined,
    twinVersion: readInteger(entity.TwinVersion),
    desired: parseJsonObject(joinStringProperty(entity, 'DesiredJson')),
    desiredVersion: readInteger(entity.DesiredVersion),
    reported: parseJsonObject(joinStringProperty(entity, 'ReportedJson')),
    reportedVersion: readInteger(entity.ReportedVersion),
    reportedLastUpdated: isoOrUndefined(entity.ReportedLastUpdated),
    configurationState: (stringColumn(entity.ConfigurationState) ?? 'unknown') as ConfigurationState,
    driftedKeys: stringArrayColumn(entity.DriftedKeys),
    agentState: stringColumn(entity.AgentState),
    invalidFields: stringArrayColumn(entity.InvalidFields),
    provisioning: stringColumn(entity.Provisioning) as ProvisioningStatus | undefined,
    updatedAt: isoOrUndefined(entity.UpdatedAt) ?? '',
    findings: parseFindings(joinStringProperty(entity, 'FindingsJson')),
    lastSweepId: stringColumn(entity.LastSweepId),
    compliant: typeof entity.Compliant === 'boolean' ? entity.Compliant : undefined,
  };
  return withoutUndefined(posture as unknown as Record<string, unknown>) as unknown as LatestPosture;
}

/** Builds the history-table entity for an entry (see the schema at the top of this file). */
export function toHistoryEntity(entry: HistoryEntry): Entity {
  return withoutUndefined<Entity>({
    ...historyKeys(entry.deviceId, entry.at, entry.partitionId, entry.sequenceNumber),
    DeviceId: entry.deviceId,
    At: entry.at,
    Kind: entry.kind,
    ModuleId: entry.moduleId,
    Summary: entry.summary,
    PartitionId: entry.partitionId,
    SequenceNumber: BigInt(entry.sequenceNumber),
    TwinVersion: tableInteger(entry.twinVersion),
    ReportedVersion: tableInteger(entry.reportedVersion),
    DesiredVersion: tableInteger(entry.desiredVersion),
    ...jsonColumns('ChangeJson', entry.change, entry.deviceId),
    ModulePresent: entry.posture.modulePresent,
    ConfigurationState: entry.posture.configurationState,
    DriftedKeys: JSON.stringify(entry.posture.driftedKeys),
    AgentState: entry.posture.agentState,
    InvalidFields: JSON.stringify(entry.posture.invalidFields),
    AuthType: entry.posture.authType,
    SchemaVersion: POSTURE_SCHEMA_VERSION,
  });
}

/** Inverse of {@link toHistoryEntity}. */
export function fromHistoryEntity(entity: Record<string, unknown>): HistoryEntry {
  const entry: HistoryEntry = {
    deviceId: stringColumn(entity.DeviceId) ?? '',
    at: entity.At instanceof Date ? entity.At : new Date(NaN),
    partitionId: stringColumn(entity.PartitionId) ?? '',
    sequenceNumber: readInteger(entity.SequenceNumber) ?? -1,
    kind: (stringColumn(entity.Kind) ?? 'resynced') as HistoryKind,
    moduleId: stringColumn(entity.ModuleId) ?? '',
    summary: stringColumn(entity.Summary) ?? '',
    twinVersion: readInteger(entity.TwinVersion),
    reportedVersion: readInteger(entity.ReportedVersion),
    desiredVersion: readInteger(entity.DesiredVersion),
    change: parseJsonObject(joinStringProperty(entity, 'ChangeJson')),
    posture: withoutUndefined({
      modulePresent: entity.ModulePresent === true,
      configurationState: (stringColumn(entity.ConfigurationState) ?? 'unknown') as ConfigurationState,
      driftedKeys: stringArrayColumn(entity.DriftedKeys),
      agentState: stringColumn(entity.AgentState),
      invalidFields: stringArrayColumn(entity.InvalidFields),
      authType: stringColumn(entity.AuthType) as AuthenticationType | undefined,
    }),
  };
  return withoutUndefined(entry as unknown as Record<string, unknown>) as unknown as HistoryEntry;
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
  static fromSettings(settings: TableClientSettings, tableNames: { latest: string; history: string }, options: TablePostureStoreOptions): TablePostureStore {
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
      const entity = await this.retry('getLatest', deviceId, () => this.latestTable.getEntity<Record<string, unknown>>(partitionKey, rowKey));
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
      const deviceId = stringColumn(entities[0]?.DeviceId) ?? '';
      // A one-row change set costs more than a plain upsert and buys no atomicity.
      if (entities.length === 1) await this.retry('appendHistory', deviceId, () => this.historyTable.upsertEntity(entities[0]!, 'Replace'));
      else await this.retry('appendHistory', deviceId, () => this.historyTable.submitTransaction(entities.map((entity) => ['upsert', entity, 'Replace'])));
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
      onRetry: (info) => this.logger.warn('table storage call retried', { operation, deviceId, ...info }),
    });
  }
}

/** @azure/data-tables tokens are base64 JSON naming the next partition and row; anything else is the caller's mistake. */
function assertTableContinuationToken(token: string): void {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { nextPartitionKey?: unknown }).nextPartitionKey === 'string') return;
  } catch {
    // reported below
  }
  throw new InvalidContinuationTokenError();
}
