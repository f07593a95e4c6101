/**
 * SweepStore on Azure Table storage.
 *
 * SweepRuns — PartitionKey = sweepId:
 * | RowKey | columns |
 * |---|---|
 * | `run` | Trigger, DryRun (Boolean), Status (`planning`/`running`/`importing`/`completed`/`failed`), StartedAt, CompletedAt, UpdatedAt (DateTime), PlanJson (split points, shards, buckets, fleetSize, estimatedMissingModules, bulkImport, cost), PlanningJson (the walk's progress while planning), ImportResultsJson, RetentionJson, SummaryJson (counters, compliantShare, durationMs, importJob), Error (why a failed run failed) |
 * | `shard-000` … | StartBucket, EndBucket, NextBucket (the cursor), Status (`pending`/`running`/`done`), CountersJson, Invocations, UpdatedAt |
 * | `sample-000000-0` … | Ids (+ Ids1 … Ids6): the device ids planning sampled from one page of its walk, newline-separated, in a fixed number of rows per page (SAMPLE_ROWS_PER_PAGE, written in one transaction, so a retried page replaces every row of its earlier try); deleted once the plan is set |
 *
 * SweepRuns — PartitionKey `~recent` (recent-runs index, newest first): RowKey = invertedTicks(startedAt) + `_` +
 * sweepId, with the run's columns; written once per completed run.
 *
 * SweepFindings — PartitionKey = `<sweepId>_<shard, 3 digits>`, RowKey = `<encodeKeySegment(deviceId)>|<ruleId>`:
 * SweepId, Shard, Bucket (Int32), DeviceId (raw), RuleId, Severity, Status (`violation`/`suppressed`), Message,
 * SuppressionId, RepairAction (`createModule`/`applyBaseline`), RepairResult (`created`, `alreadyExists`, `applied`,
 * `dryRun`, `queuedForImport` until the import job ends, `needsThumbprint`, `deviceNotFound`, `failed`,
 * `importUnconfirmed`, …), RepairError. Written in ≤100-entity transactions; a re-run bucket upserts the same keys.
 *
 * Retention scans SweepRuns for `RowKey eq 'run'` across partitions (listRuns): a table scan, but the table holds
 * only (1 + shards) rows per run kept, e.g. 90 daily runs × 17 rows.

 */
import { odata, type TableClient, type TableEntity } from '@azure/data-tables';
import { mapWithConcurrency } from '../concurrency';
import { classifyServiceError, InvalidContinuationTokenError, PermanentError } from '../errors';
import type { Logger } from '../logger';
import { retryTransient } from '../retry';
import type { RuleId } from '../domain/compliance-rules';
import { emptyCounters, type SweepCounters } from '../domain/sweep-summary';
import { decodePagingToken, encodePagingToken, hasOnlyKeys, isShardIndex } from '../domain/paging-token';
import { encodeKeySegment, invertedTicks } from '../domain/table-keys';
import type {
  FindingRecord,
  FindingsQuery,
  ShardState,
  Stored,
  SweepRun,
  SweepStatus,
  SweepStore,
  WriteResult,
} from '../ports/sweep-store';
import { isoString as iso, stringValue as str } from './entity-values';
import {
  joinStringProperty,
  MAX_STRING_PROPERTY_CHARS,
  MAX_TRANSACTION_ACTIONS,
  planUpsertTransactions,
  readInteger,
  splitStringProperty,
  withoutUndefined,
} from './table-clients';

type Entity = TableEntity<Record<string, unknown>>;

const RUN_ROW = 'run';
const RECENT_PARTITION = '~recent';
const MAX_JSON_PARTS = 8;
const SAMPLE_PREFIX = 'sample-';
/** Columns of one sample row (7 × 32,000 UTF-16 characters stays well inside the 1 MiB entity limit). */
const SAMPLE_COLUMNS = 7;
/**
 * Rows per sampled page, always all written: a page of 10,000 ids of at most 128 characters (IoT Hub's limit) joined
 * by newlines is ≤ 1,290,000 characters, 6 rows of 224,000.
 */
const SAMPLE_ROWS_PER_PAGE = 6;
const KEYS_ONLY = ['PartitionKey', 'RowKey'];

type Key = { partitionKey: string; rowKey: string };

function sampleRowKey(page: number, row: number): string {
  return `${SAMPLE_PREFIX}${String(page).padStart(6, '0')}-${row}`;
}

export interface TableSweepStoreOptions {
  /** The only retry layer: build the clients with createTableClient (SDK retry off, OUTBOUND_TIMEOUT_MS per attempt). */
  retryBudgetMs: number;
  /** Each retry is logged here at WARN; none by default. */
  logger?: Logger;
  sleep?: (ms: number) => Promise<void>;
}

function shardRowKey(shard: number): string {
  return `shard-${String(shard).padStart(3, '0')}`;
}

function recentRowKey(run: SweepRun): string {
  return `${invertedTicks(new Date(run.startedAt))}_${run.sweepId}`;
}

export function findingsPartition(sweepId: string, shard: number): string {
  return `${sweepId}_${String(shard).padStart(3, '0')}`;
}

function json(name: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  const columns = splitStringProperty(name, JSON.stringify(value), MAX_JSON_PARTS);
  if (!columns) throw new PermanentError(`${name} is too large for ${MAX_JSON_PARTS} columns`);
  return columns;
}

function parse<T>(entity: Record<string, unknown>, name: string): T | undefined {
  const text = joinStringProperty(entity, name);
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

function runColumns(run: SweepRun): Record<string, unknown> {
  return withoutUndefined({
    SweepId: run.sweepId,
    Trigger: run.trigger,
    DryRun: run.dryRun,
    Status: run.status,
    StartedAt: new Date(run.startedAt),
    CompletedAt: run.completedAt === undefined ? undefined : new Date(run.completedAt),
    UpdatedAt: run.updatedAt === undefined ? undefined : new Date(run.updatedAt),
    Error: run.error,
    ...json('PlanJson', run.plan),
    ...json('PlanningJson', run.planning),
    ...json('ImportResultsJson', run.importResults),
    ...json('RetentionJson', run.retention),
    ...json('SummaryJson', run.summary),
  });
}

function runFrom(entity: Record<string, unknown>): SweepRun {
  const run: SweepRun = {
    sweepId: str(entity.SweepId) ?? '',
    trigger: str(entity.Trigger) === 'schedule' ? 'schedule' : 'api',
    dryRun: entity.DryRun === true,
    status: (str(entity.Status) ?? 'failed') as SweepRun['status'],
    startedAt: iso(entity.StartedAt) ?? '',
  };
  const completedAt = iso(entity.CompletedAt);
  if (completedAt) run.completedAt = completedAt;
  const updatedAt = iso(entity.UpdatedAt);
  if (updatedAt) run.updatedAt = updatedAt;
  const plan = parse<SweepRun['plan']>(entity, 'PlanJson');
  if (plan) run.plan = plan;
  const planning = parse<SweepRun['planning']>(entity, 'PlanningJson');
  if (planning) run.planning = planning;
  const importResults = parse<SweepRun['importResults']>(entity, 'ImportResultsJson');
  if (importResults) run.importResults = importResults;
  const retention = parse<SweepRun['retention']>(entity, 'RetentionJson');
  if (retention) run.retention = retention;
  const summary = parse<SweepRun['summary']>(entity, 'SummaryJson');
  if (summary) run.summary = summary;
  const error = str(entity.Error);
  if (error) run.error = error;
  return run;
}

function shardEntity(shard: ShardState): Entity {
  return {
    partitionKey: shard.sweepId,
    rowKey: shardRowKey(shard.shard),
    Shard: shard.shard,
    StartBucket: shard.startBucket,
    EndBucket: shard.endBucket,
    NextBucket: shard.nextBucket,
    Status: shard.status,
    Invocations: shard.invocations,
    UpdatedAt: new Date(shard.updatedAt),
    ...json('CountersJson', shard.counters),
  };
}

function shardFrom(entity: Record<string, unknown>): ShardState {
  return {
    sweepId: str(entity.partitionKey) ?? '',
    shard: readInteger(entity.Shard) ?? 0,
    startBucket: readInteger(entity.StartBucket) ?? 0,
    endBucket: readInteger(entity.EndBucket) ?? 0,
    nextBucket: readInteger(entity.NextBucket) ?? 0,
    status: (str(entity.Status) ?? 'pending') as ShardState['status'],
    counters: parse<SweepCounters>(entity, 'CountersJson') ?? emptyCounters(),
    invocations: readInteger(entity.Invocations) ?? 0,
    updatedAt: iso(entity.UpdatedAt) ?? '',
  };
}

function findingEntity(row: FindingRecord): Entity {
  return withoutUndefined<Entity>({
    partitionKey: findingsPartition(row.sweepId, row.shard),
    rowKey: `${encodeKeySegment(row.deviceId)}|${row.ruleId}`,
    SweepId: row.sweepId,
    Shard: row.shard,
    Bucket: row.bucket,
    DeviceId: row.deviceId,
    RuleId: row.ruleId,
    Severity: row.severity,
    Status: row.status,
    Message: row.message,
    SuppressionId: row.suppressionId,
    RepairAction: row.repairAction,
    RepairResult: row.repairResult,
    RepairError: row.repairError,
    ManagedBy: row.managedBy,
    MitigationsJson: row.mitigations && JSON.stringify(row.mitigations),
  });
}

function findingFrom(entity: Record<string, unknown>): FindingRecord {
  const row: FindingRecord = {
    sweepId: str(entity.SweepId) ?? '',
    shard: readInteger(entity.Shard) ?? 0,
    bucket: readInteger(entity.Bucket) ?? 0,
    deviceId: str(entity.DeviceId) ?? '',
    ruleId: (str(entity.RuleId) ?? '') as RuleId,
    severity: str(entity.Severity) ?? '',
    status: str(entity.Status) === 'suppressed' ? 'suppressed' : 'violation',
    message: str(entity.Message) ?? '',
  };
  for (const [column, key] of [
    ['SuppressionId', 'suppressionId'],
    ['RepairAction', 'repairAction'],
    ['RepairResult', 'repairResult'],
    ['RepairError', 'repairError'],
    ['ManagedBy', 'managedBy'],
  ] as const) {
    const value = str(entity[column]);
    if (value !== undefined) row[key] = value;
  }
  const mitigations = str(entity.MitigationsJson);
  if (mitigations !== undefined) row.mitigations = JSON.parse(mitigations) as FindingRecord['mitigations'];
  return row;
}

export class TableSweepStore implements SweepStore {
  constructor(
    private readonly runs: TableClient,
    private readonly findings: TableClient,
    private readonly options: TableSweepStoreOptions,
  ) {}

  private retry<T>(name: string, call: () => Promise<T>): Promise<T> {
    const { retryBudgetMs: budgetMs, sleep, logger } = this.options;
    return retryTransient(call, { budgetMs, operationName: name, sleep, logger, retryMessage: 'table storage call retried' });
  }

  private async conditional(call: () => Promise<unknown>): Promise<WriteResult> {
    try {
      await call();
      return 'written';
    } catch (error) {
      const kind = classifyServiceError(error).kind;
      if (kind === 'conflict' || kind === 'preconditionFailed' || kind === 'notFound') return 'conflict';
      throw error;
    }
  }

  private async get(partitionKey: string, rowKey: string): Promise<(Record<string, unknown> & { etag: string }) | undefined> {
    try {
      return await this.retry('getSweepRow', () => this.runs.getEntity<Record<string, unknown>>(partitionKey, rowKey));
    } catch (error) {
      if (classifyServiceError(error).kind === 'notFound') return undefined;
      throw error;
    }
  }

  createRun(run: SweepRun): Promise<WriteResult> {
    return this.conditional(() =>
      this.retry('createRun', () => this.runs.createEntity({ partitionKey: run.sweepId, rowKey: RUN_ROW, ...runColumns(run) })),
    );
  }

  async getRun(sweepId: string): Promise<Stored<SweepRun> | undefined> {
    const entity = await this.get(sweepId, RUN_ROW);
    return entity && { value: runFrom(entity), etag: entity.etag };
  }

  updateRun(run: SweepRun, etag: string): Promise<WriteResult> {
    return this.conditional(() =>
      this.retry('updateRun', () =>
        this.runs.updateEntity({ partitionKey: run.sweepId, rowKey: RUN_ROW, ...runColumns(run) }, 'Replace', { etag }),
      ),
    );
  }

  async createShards(shards: ShardState[]): Promise<void> {
    await mapWithConcurrency(shards, 8, async (shard) => {
      await this.conditional(() => this.retry('createShard', () => this.runs.createEntity(shardEntity(shard))));
    });
  }

  async getShard(sweepId: string, shard: number): Promise<Stored<ShardState> | undefined> {
    const entity = await this.get(sweepId, shardRowKey(shard));
    return entity && { value: shardFrom(entity), etag: entity.etag };
  }

  updateShard(shard: ShardState, etag: string): Promise<WriteResult> {
    return this.conditional(() => this.retry('updateShard', () => this.runs.updateEntity(shardEntity(shard), 'Replace', { etag })));
  }

  async listShards(sweepId: string): Promise<ShardState[]> {
    const filter = odata`PartitionKey eq ${sweepId} and RowKey ge 'shard-' and RowKey lt 'shard.'`;
    return this.retry('listShards', async () => {
      const shards: ShardState[] = [];
      for await (const entity of this.runs.listEntities<Record<string, unknown>>({ queryOptions: { filter } }))
        shards.push(shardFrom(entity));
      return shards;
    });
  }

  async listRecentRuns(limit: number): Promise<SweepRun[]> {
    return this.retry('listRecentRuns', async () => {
      const pages = this.runs
        .listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${RECENT_PARTITION}` } })
        .byPage({ maxPageSize: limit });
      const first = await pages.next();
      return first.done ? [] : first.value.slice(0, limit).map(runFrom);
    });
  }

  async indexRun(run: SweepRun): Promise<void> {
    const rowKey = recentRowKey(run);
    await this.retry('indexRun', () => this.runs.upsertEntity({ partitionKey: RECENT_PARTITION, rowKey, ...runColumns(run) }, 'Replace'));
  }

  async writeFindings(rows: FindingRecord[]): Promise<void> {
    const transactions = planUpsertTransactions(rows.map(findingEntity));
    await mapWithConcurrency(transactions, 4, (entities) =>
      this.retry('writeFindings', () => this.findings.submitTransaction(entities.map((entity) => ['upsert', entity, 'Replace']))),
    );
  }

  async *findingsWithRepairResult(sweepId: string, shard: number, repairResult: string, pageSize: number): AsyncIterable<FindingRecord[]> {
    const filter = odata`PartitionKey eq ${findingsPartition(sweepId, shard)} and RepairResult eq ${repairResult}`;
    let token: string | undefined;
    do {
      const page = await this.firstPage(this.findings, 'listFindingsByRepairResult', { filter }, pageSize, token);
      const rows = (page ?? []).map(findingFrom);
      // A filtered scan may answer an empty page with a continuation; only pages with rows are handed out.
      if (rows.length > 0) yield rows;
      token = page?.continuationToken;
    } while (token !== undefined);
  }

  async writePlanSample(sweepId: string, page: number, ids: readonly string[]): Promise<void> {
    const text = ids.join('\n');
    const rowChars = SAMPLE_COLUMNS * MAX_STRING_PROPERTY_CHARS;
    if (text.length > SAMPLE_ROWS_PER_PAGE * rowChars)
      throw new PermanentError(`sampled page ${page} is too large for ${SAMPLE_ROWS_PER_PAGE} rows`);
    const entities: Entity[] = [];
    for (let row = 0; row < SAMPLE_ROWS_PER_PAGE; row++) {
      const part = text.slice(row * rowChars, (row + 1) * rowChars);
      const columns = splitStringProperty('Ids', part, SAMPLE_COLUMNS + 1);
      if (!columns) throw new PermanentError('a sampled page does not fit its rows');
      entities.push({ partitionKey: sweepId, rowKey: sampleRowKey(page, row), Page: page, ...columns });
    }
    await this.retry('writePlanSample', () => this.runs.submitTransaction(entities.map((entity) => ['upsert', entity, 'Replace'])));
  }

  async readPlanSample(sweepId: string, pages: number): Promise<string[]> {
    const filter = odata`PartitionKey eq ${sweepId} and RowKey ge ${SAMPLE_PREFIX} and RowKey lt 'sample.'`;
    const rows = await this.retry('readPlanSample', async () => {
      const found: Array<{ rowKey: string; text: string }> = [];
      for await (const entity of this.runs.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
        const page = readInteger(entity.Page) ?? Number.MAX_SAFE_INTEGER;
        if (page < pages) found.push({ rowKey: entity.rowKey ?? '', text: joinStringProperty(entity, 'Ids') ?? '' });
      }
      return found;
    });
    // Row keys sort page by page and row by row (one digit), so the rows of a page join back in order.
    rows.sort((a, b) => (a.rowKey < b.rowKey ? -1 : a.rowKey > b.rowKey ? 1 : 0));
    const ids: string[] = [];
    let pageText = '';
    let pagePrefix = '';
    const flush = (): void => {
      for (const id of pageText.split('\n')) if (id !== '') ids.push(id);
    };
    for (const row of rows) {
      const prefix = row.rowKey.slice(0, row.rowKey.lastIndexOf('-'));
      if (prefix !== pagePrefix) {
        flush();
        pageText = '';
        pagePrefix = prefix;
      }
      pageText += row.text;
    }
    flush();
    return ids;
  }

  async deletePlanSample(sweepId: string): Promise<void> {
    const filter = odata`PartitionKey eq ${sweepId} and RowKey ge ${SAMPLE_PREFIX} and RowKey lt 'sample.'`;
    for (;;) {
      const keys = await this.keys(this.runs, filter, 1_000);
      if (keys.length === 0) return;
      await this.deleteKeys(this.runs, keys);
    }
  }

  async listRuns(query: { statuses: readonly SweepStatus[]; startedBefore?: string; limit: number }): Promise<Stored<SweepRun>[]> {
    if (query.statuses.length === 0 || query.limit < 1) return [];
    let filter = `${odata`RowKey eq ${RUN_ROW}`} and (${query.statuses.map((status) => odata`Status eq ${status}`).join(' or ')})`;
    if (query.startedBefore !== undefined) filter += odata` and StartedAt lt ${new Date(query.startedBefore)}`;
    const runs: Stored<SweepRun>[] = [];
    let token: string | undefined;
    do {
      const page = await this.firstPage(this.runs, 'listRuns', { filter }, Math.min(1_000, query.limit - runs.length), token);
      for (const entity of page ?? []) runs.push({ value: runFrom(entity), etag: entity.etag ?? '' });
      token = page?.continuationToken;
    } while (token !== undefined && runs.length < query.limit);
    return runs.slice(0, query.limit);
  }

  async deleteRun(run: SweepRun, maxRows: number): Promise<{ rowsDeleted: number; done: boolean }> {
    let rowsDeleted = 0;
    const room = (): number => maxRows - rowsDeleted;
    for (let shard = 0; shard < (run.plan?.shards ?? 0); shard++) {
      const filter = odata`PartitionKey eq ${findingsPartition(run.sweepId, shard)}`;
      for (;;) {
        if (room() <= 0) return { rowsDeleted, done: false };
        const keys = await this.keys(this.findings, filter, Math.min(1_000, room()));
        if (keys.length === 0) break;
        await this.deleteKeys(this.findings, keys);
        rowsDeleted += keys.length;
      }
    }
    if (room() <= 0) return { rowsDeleted, done: false };
    if (await this.deleteOne(this.runs, { partitionKey: RECENT_PARTITION, rowKey: recentRowKey(run) })) rowsDeleted += 1;
    // Shard and sample rows: everything in the run's partition but the run row itself, which goes last.
    const others = odata`PartitionKey eq ${run.sweepId} and RowKey ne ${RUN_ROW}`;
    for (;;) {
      if (room() <= 0) return { rowsDeleted, done: false };
      const keys = await this.keys(this.runs, others, Math.min(1_000, room()));
      if (keys.length === 0) break;
      await this.deleteKeys(this.runs, keys);
      rowsDeleted += keys.length;
    }
    if (await this.deleteOne(this.runs, { partitionKey: run.sweepId, rowKey: RUN_ROW })) rowsDeleted += 1;
    return { rowsDeleted, done: true };
  }

  private async firstPage(
    client: TableClient,
    name: string,
    queryOptions: { filter: string; select?: string[] },
    pageSize: number,
    continuationToken: string | undefined,
  ): Promise<
    | (Array<Record<string, unknown> & { etag?: string; rowKey?: string; partitionKey?: string }> & { continuationToken?: string })
    | undefined
  > {
    return this.retry(name, async () => {
      const pages = client.listEntities<Record<string, unknown>>({ queryOptions }).byPage({ maxPageSize: pageSize, continuationToken });
      const first = await pages.next();
      return first.done ? undefined : first.value;
    });
  }

  /** Up to `limit` keys matching `filter` (following empty pages of a filtered scan). */
  private async keys(client: TableClient, filter: string, limit: number): Promise<Key[]> {
    const keys: Key[] = [];
    let token: string | undefined;
    do {
      const page = await this.firstPage(client, 'listKeys', { filter, select: KEYS_ONLY }, limit - keys.length, token);
      for (const entity of page ?? []) keys.push({ partitionKey: String(entity.partitionKey), rowKey: String(entity.rowKey) });
      token = page?.continuationToken;
    } while (token !== undefined && keys.length < limit);
    return keys;
  }

  /** Deletes rows in ≤100-row transactions per partition; a batch that meets a row deleted meanwhile is redone row by row. */
  private async deleteKeys(client: TableClient, keys: readonly Key[]): Promise<void> {
    const byPartition = new Map<string, Key[]>();
    for (const key of keys) {
      const group = byPartition.get(key.partitionKey) ?? [];
      group.push(key);
      byPartition.set(key.partitionKey, group);
    }
    const batches: Key[][] = [];
    for (const group of byPartition.values())
      for (let i = 0; i < group.length; i += MAX_TRANSACTION_ACTIONS) batches.push(group.slice(i, i + MAX_TRANSACTION_ACTIONS));
    await mapWithConcurrency(batches, 4, async (batch) => {
      try {
        await this.retry('deleteRows', () => client.submitTransaction(batch.map((key) => ['delete', key])));
      } catch (error) {
        if (classifyServiceError(error).kind !== 'notFound') throw error;
        for (const key of batch) await this.deleteOne(client, key);
      }
    });
  }

  /** Deletes one row; false when it was not there. */
  private async deleteOne(client: TableClient, key: Key): Promise<boolean> {
    try {
      await this.retry('deleteRow', () => client.deleteEntity(key.partitionKey, key.rowKey));
      return true;
    } catch (error) {
      if (classifyServiceError(error).kind === 'notFound') return false;
      throw error;
    }
  }

  async listFindings(query: FindingsQuery): Promise<{ rows: FindingRecord[]; continuationToken?: string }> {
    const start =
      query.continuationToken === undefined
        ? { shard: 0, tableToken: undefined }
        : decodeFindingsToken(query.continuationToken, query.shards);
    const shard = start.shard;
    let tableToken = start.tableToken;
    const filterOf = (index: number): string => findingsFilter(query, index);
    const rows: FindingRecord[] = [];
    const after = (index: number): { rows: FindingRecord[]; continuationToken?: string } =>
      index + 1 < query.shards ? { rows, continuationToken: encodeFindingsToken(index + 1) } : { rows };

    // The shard the token points into, following the Table service's continuations: a filtered scan answers pages of
    // up to 1,000 *scanned* entities, often with few or no matches, so keep reading (bounded, so one request stays
    // cheap) rather than hand out a thin or empty page.
    for (let roundTrips = 0; ;) {
      const page = await this.findingsPage(
        filterOf(shard),
        query.limit - rows.length,
        tableToken,
        roundTrips === 0 && tableToken !== undefined,
      );
      roundTrips++;
      for (const entity of page ?? []) rows.push(findingFrom(entity));
      tableToken = page?.continuationToken;
      if (tableToken !== undefined && (rows.length >= query.limit || roundTrips >= MAX_FINDINGS_ROUND_TRIPS))
        return { rows, continuationToken: encodeFindingsToken(shard, tableToken) };
      if (tableToken === undefined) {
        if (rows.length >= query.limit) return after(shard);
        break;
      }
    }
    if (shard + 1 >= query.shards) return { rows };

    // The rest of the page comes from the next shards: their first pages are read at once, not one shard after
    // another (a rare rule's findings may sit in the last shard; 16 sequential round trips are most of a second).
    const rest = Array.from({ length: query.shards - shard - 1 }, (_, i) => shard + 1 + i);
    const wanted = query.limit - rows.length;
    const pages = await mapWithConcurrency(rest, rest.length, (index) => this.findingsPage(filterOf(index), wanted, undefined, false));
    for (const [i, index] of rest.entries()) {
      let page = pages[i];
      if (page === undefined || (page.length === 0 && page.continuationToken === undefined)) continue;
      // Read with the room the page had before earlier shards filled part of it: read again with what is left.
      if (rows.length + page.length > query.limit)
        page = await this.findingsPage(filterOf(index), query.limit - rows.length, undefined, false);
      for (const entity of page ?? []) rows.push(findingFrom(entity));
      if (page?.continuationToken !== undefined) return { rows, continuationToken: encodeFindingsToken(index, page.continuationToken) };
      if (rows.length >= query.limit) return after(index);
    }
    return { rows };
  }

  private async findingsPage(
    filter: string,
    maxPageSize: number,
    tableToken: string | undefined,
    tokenFromClient: boolean,
  ): Promise<(Record<string, unknown>[] & { continuationToken?: string }) | undefined> {
    return this.retry('listFindings', async () => {
      const pages = this.findings
        .listEntities<Record<string, unknown>>({ queryOptions: { filter } })
        .byPage({ maxPageSize, continuationToken: tableToken });
      const first = await pages.next();
      return first.done ? undefined : first.value;
    }).catch((error: unknown) => {
      // A well-formed table token the service still refuses (its NextPartitionKey/NextRowKey are opaque to us): the
      // caller's input, not a fault of ours.
      if (tokenFromClient && classifyServiceError(error).kind === 'badRequest') throw new InvalidContinuationTokenError();
      throw error;
    });
  }
}

/** One shard's findings of a sweep, narrowed by the query's filters (all of them served by the Table service). */
function findingsFilter(query: FindingsQuery, shard: number): string {
  let filter = odata`PartitionKey eq ${findingsPartition(query.sweepId, shard)}`;
  if (query.ruleId) filter += odata` and RuleId eq ${query.ruleId}`;
  if (query.status) filter += odata` and Status eq ${query.status}`;
  if (query.severity) filter += odata` and Severity eq ${query.severity}`;
  // Device ids are ASCII (identifiers.ts), so every id with the prefix sorts below prefix + DEL.
  if (query.deviceIdPrefix) filter += odata` and DeviceId ge ${query.deviceIdPrefix} and DeviceId lt ${`${query.deviceIdPrefix}\u007f`}`;
  return filter;
}

/** Table round trips one findings request may spend filling its page (each scans up to 1,000 entities). */
const MAX_FINDINGS_ROUND_TRIPS = 8;

/**
 * The findings paging token: base64 JSON `{ s: <shard>, t?: <the Table service's token within that shard> }`.
 * `t` is what @azure/data-tables hands out as `page.continuationToken` (13.x `utils/continuationToken.ts`):
 * base64 JSON `{ nextPartitionKey, nextRowKey? }` of the `x-ms-continuation-NextPartitionKey/NextRowKey` headers.
 */
export function encodeFindingsToken(shard: number, tableToken?: string): string {
  return encodePagingToken(tableToken === undefined ? { s: shard } : { s: shard, t: tableToken });
}

/** Table key length limit; the service's continuation values are keys or (Azure) a `1!<length>!<base64>` form of one. */
const MAX_TABLE_CONTINUATION_PART = 2048;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

function isTableContinuationPart(value: unknown): boolean {
  return typeof value === 'string' && value.length <= MAX_TABLE_CONTINUATION_PART && PRINTABLE_ASCII.test(value);
}

/** True when `token` has the shape of an @azure/data-tables continuation token (see {@link encodeFindingsToken}). */
function isTableContinuationToken(token: unknown): token is string {
  if (typeof token !== 'string') return false;
  const parsed = decodePagingToken(token);
  return (
    parsed !== undefined &&
    hasOnlyKeys(parsed, ['nextPartitionKey', 'nextRowKey']) &&
    isTableContinuationPart(parsed['nextPartitionKey']) &&
    (parsed['nextRowKey'] === undefined || isTableContinuationPart(parsed['nextRowKey']))
  );
}

/**
 * Reads a findings token for a sweep of `shards` shards, accepting only what {@link encodeFindingsToken} can have
 * produced: `s` an integer in [0, shards) (a negative or huge shard would walk thousands of empty partitions, a
 * fraction none at all) and `t` absent or shaped like a Table token (anything else made the SDK's own decoder throw).
 * @throws InvalidContinuationTokenError for anything else.
 */
export function decodeFindingsToken(token: string, shards: number): { shard: number; tableToken: string | undefined } {
  const parsed = decodePagingToken(token);
  if (parsed === undefined || !hasOnlyKeys(parsed, ['s', 't']) || !isShardIndex(parsed['s'], shards))
    throw new InvalidContinuationTokenError();
  const tableToken = parsed['t'];
  if (tableToken !== undefined && !isTableContinuationToken(tableToken)) throw new InvalidContinuationTokenError();
  return { shard: parsed['s'], tableToken };
}
