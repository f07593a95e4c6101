/**
 * SweepStore on Azure Table storage.
 *
 * SweepRuns — PartitionKey = sweepId:
 * | RowKey | columns |
 * |---|---|
 * | `run` | Trigger, DryRun (Boolean), Status (`planning`/`running`/`importing`/`completed`/`failed`), StartedAt, CompletedAt (DateTime), PlanJson (split points, shards, buckets, fleetSize, estimatedMissingModules, bulkImport), SummaryJson (counters, compliantShare, durationMs, importJob), Error |
 * | `shard-000` … | StartBucket, EndBucket, NextBucket (the cursor), Status (`pending`/`running`/`done`), CountersJson, Invocations, UpdatedAt |
 *
 * SweepRuns — PartitionKey `~recent` (recent-runs index, newest first): RowKey = invertedTicks(startedAt) + `_` +
 * sweepId, with the run's columns; written once per completed run.
 *
 * SweepFindings — PartitionKey = `<sweepId>_<shard, 3 digits>`, RowKey = `<encodeKeySegment(deviceId)>|<ruleId>`:
 * SweepId, Shard, Bucket (Int32), DeviceId (raw), RuleId, Severity, Status (`violation`/`suppressed`), Message,
 * SuppressionId, RepairAction (`createModule`/`applyBaseline`), RepairResult (`created`, `alreadyExists`, `applied`,
 * `dryRun`, `queuedForImport`, `needsThumbprint`, `deviceNotFound`, `failed`, …). Written in ≤100-entity
 * transactions; a re-run bucket upserts the same keys.

 */
import { odata, type TableClient, type TableEntity } from '@azure/data-tables';
import { mapWithConcurrency } from '../concurrency';
import { classifyServiceError, InvalidContinuationTokenError, PermanentError } from '../errors';
import { retryTransient } from '../retry';
import type { RuleId } from '../domain/compliance-rules';
import { emptyCounters, type SweepCounters } from '../domain/sweep-summary';
import { encodeKeySegment, invertedTicks } from '../domain/table-keys';
import type { FindingRecord, FindingsQuery, ShardState, Stored, SweepRun, SweepStore, WriteResult } from '../ports/sweep-store';
import { isoString as iso, stringValue as str } from './entity-values';
import { joinStringProperty, planUpsertTransactions, readInteger, splitStringProperty, withoutUndefined } from './table-clients';

type Entity = TableEntity<Record<string, unknown>>;

const RUN_ROW = 'run';
const RECENT_PARTITION = '~recent';
const MAX_JSON_PARTS = 8;

export interface TableSweepStoreOptions {
  retryBudgetMs: number;
  sleep?: (ms: number) => Promise<void>;
}

function shardRowKey(shard: number): string {
  return `shard-${String(shard).padStart(3, '0')}`;
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
    Error: run.error,
    ...json('PlanJson', run.plan),
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
  const plan = parse<SweepRun['plan']>(entity, 'PlanJson');
  if (plan) run.plan = plan;
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
  ] as const) {
    const value = str(entity[column]);
    if (value !== undefined) row[key] = value;
  }
  return row;
}

export class TableSweepStore implements SweepStore {
  constructor(
    private readonly runs: TableClient,
    private readonly findings: TableClient,
    private readonly options: TableSweepStoreOptions,
  ) {}

  private retry<T>(name: string, call: () => Promise<T>): Promise<T> {
    return retryTransient(call, { budgetMs: this.options.retryBudgetMs, operationName: name, sleep: this.options.sleep });
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
    const rowKey = `${invertedTicks(new Date(run.startedAt))}_${run.sweepId}`;
    await this.retry('indexRun', () => this.runs.upsertEntity({ partitionKey: RECENT_PARTITION, rowKey, ...runColumns(run) }, 'Replace'));
  }

  async writeFindings(rows: FindingRecord[]): Promise<void> {
    const transactions = planUpsertTransactions(rows.map(findingEntity));
    await mapWithConcurrency(transactions, 4, (entities) =>
      this.retry('writeFindings', () => this.findings.submitTransaction(entities.map((entity) => ['upsert', entity, 'Replace']))),
    );
  }

  async listFindings(query: FindingsQuery): Promise<{ rows: FindingRecord[]; continuationToken?: string }> {
    let shard = 0;
    let tableToken: string | undefined;
    if (query.continuationToken !== undefined) {
      try {
        const parsed = JSON.parse(Buffer.from(query.continuationToken, 'base64').toString('utf8')) as { s?: unknown; t?: unknown };
        if (typeof parsed.s !== 'number' || (parsed.t !== undefined && typeof parsed.t !== 'string')) throw new Error('bad token');
        shard = parsed.s;
        tableToken = parsed.t;
      } catch {
        throw new InvalidContinuationTokenError();
      }
    }
    const rows: FindingRecord[] = [];
    for (; shard < query.shards; shard++, tableToken = undefined) {
      let filter = odata`PartitionKey eq ${findingsPartition(query.sweepId, shard)}`;
      if (query.ruleId) filter += odata` and RuleId eq ${query.ruleId}`;
      if (query.status) filter += odata` and Status eq ${query.status}`;
      const page = await this.retry('listFindings', async () => {
        const pages = this.findings
          .listEntities<Record<string, unknown>>({ queryOptions: { filter } })
          .byPage({ maxPageSize: query.limit - rows.length, continuationToken: tableToken });
        const first = await pages.next();
        return first.done ? undefined : first.value;
      });
      for (const entity of page ?? []) rows.push(findingFrom(entity));
      if (page?.continuationToken) return { rows, continuationToken: encodeToken(shard, page.continuationToken) };
      if (rows.length >= query.limit) return shard + 1 < query.shards ? { rows, continuationToken: encodeToken(shard + 1) } : { rows };
    }
    return { rows };
  }
}

function encodeToken(shard: number, tableToken?: string): string {
  return Buffer.from(JSON.stringify(tableToken === undefined ? { s: shard } : { s: shard, t: tableToken })).toString('base64');
}
