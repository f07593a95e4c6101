/**
 * PendingProvisioningStore on Azure Table storage (table PENDING_PROVISIONING_TABLE, default `PendingProvisioning`).
 *
 * | PartitionKey | RowKey | columns |
 * |---|---|---|
 * | `pending` | `<encoded device ID>\|<partition>_<sequence number, 20 digits>` (pendingProvisioningKey) | DeviceId, ModuleId, AuthType (`sas`/`certificateAuthority`, empty while the device's facts are unresolved), DesiredJson, PartitionId, SequenceNumber (Int64), Offset, EnqueuedTime, JobKey (empty until a job claims the row) |
 * | `job` | `current` | JobKey, Phase, Staged, JobId, FinishedAt, LeaseUntil, StartedAt, UpdatedAt: the hub's one storm import job |
 *
 * The table holds only work in flight: a row is deleted once its device's outcome is on its posture, the job row
 * once every row of the job is. Rows are inserted, never upserted, so a replayed event cannot reset a claimed row.
 */
import { odata, type TableClient, type TableTransaction } from '@azure/data-tables';
import { classifyServiceError } from '../errors';
import { pendingProvisioningKey } from '../domain/registration-storm';
import type { JsonObject } from '../domain/types';
import type { Logger } from '../logger';
import type {
  PendingProvisioning,
  PendingProvisioningStore,
  StormJob,
  StormJobPhase,
  StoredStormJob,
} from '../ports/pending-provisioning-store';
import { retryTransient } from '../retry';
import { isoString as iso, stringValue as str } from './entity-values';
import { MAX_TRANSACTION_ACTIONS, readInteger, withoutUndefined } from './table-clients';

const PENDING = 'pending';
const JOB_PARTITION = 'job';
const JOB_ROW = 'current';

type Entity = Record<string, unknown> & { partitionKey: string; rowKey: string };

export interface TablePendingProvisioningStoreOptions {
  /** The only retry layer: build the client with createTableClient (SDK retry off, OUTBOUND_TIMEOUT_MS per attempt). */
  retryBudgetMs: number;
  logger?: Logger;
}

function rowKeyOf(item: PendingProvisioning): string {
  return pendingProvisioningKey(item.deviceId, item.position);
}

function entityOf(item: PendingProvisioning): Entity {
  return withoutUndefined({
    partitionKey: PENDING,
    rowKey: rowKeyOf(item),
    DeviceId: item.deviceId,
    ModuleId: item.moduleId,
    AuthType: item.authentication?.type ?? '',
    DesiredJson: JSON.stringify(item.desired),
    PartitionId: item.position.partitionId,
    SequenceNumber: { value: String(item.position.sequenceNumber), type: 'Int64' },
    Offset: item.position.offset,
    EnqueuedTime: item.position.enqueuedTime,
    JobKey: item.jobKey ?? '',
  });
}

function itemOf(entity: Record<string, unknown>): PendingProvisioning {
  const authType = str(entity['AuthType']);
  const jobKey = str(entity['JobKey']);
  const item: PendingProvisioning = {
    deviceId: str(entity['DeviceId']) ?? '',
    moduleId: str(entity['ModuleId']) ?? '',
    desired: JSON.parse(str(entity['DesiredJson']) ?? '{}') as JsonObject,
    position: {
      partitionId: str(entity['PartitionId']) ?? '0',
      sequenceNumber: readInteger(entity['SequenceNumber']) ?? 0,
      offset: str(entity['Offset']) ?? '',
      enqueuedTime: new Date(iso(entity['EnqueuedTime']) ?? 0),
    },
  };
  if (authType === 'sas' || authType === 'certificateAuthority') item.authentication = { type: authType };
  if (jobKey) item.jobKey = jobKey;
  return item;
}

function jobOf(entity: Record<string, unknown>): StormJob {
  const job: StormJob = {
    jobKey: str(entity['JobKey']) ?? '',
    phase: (str(entity['Phase']) ?? 'claiming') as StormJobPhase,
    staged: readInteger(entity['Staged']) ?? 0,
    startedAt: iso(entity['StartedAt']) ?? new Date(0).toISOString(),
    updatedAt: iso(entity['UpdatedAt']) ?? new Date(0).toISOString(),
  };
  const jobId = str(entity['JobId']);
  const finishedAt = iso(entity['FinishedAt']);
  const leaseUntil = iso(entity['LeaseUntil']);
  if (jobId) job.jobId = jobId;
  if (finishedAt) job.finishedAt = finishedAt;
  if (leaseUntil) job.leaseUntil = leaseUntil;
  return job;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class TablePendingProvisioningStore implements PendingProvisioningStore {
  constructor(
    private readonly table: TableClient,
    private readonly options: TablePendingProvisioningStoreOptions,
  ) {}

  private retry<T>(name: string, call: () => Promise<T>): Promise<T> {
    return retryTransient(call, {
      budgetMs: this.options.retryBudgetMs,
      operationName: name,
      logger: this.options.logger,
      retryMessage: 'table storage call retried',
    });
  }

  private async conditional(call: () => Promise<unknown>): Promise<'written' | 'conflict'> {
    try {
      await call();
      return 'written';
    } catch (error) {
      const kind = classifyServiceError(error).kind;
      if (kind === 'conflict' || kind === 'preconditionFailed' || kind === 'notFound') return 'conflict';
      throw error;
    }
  }

  async record(items: readonly PendingProvisioning[]): Promise<void> {
    const unique = [...new Map(items.map((item) => [rowKeyOf(item), entityOf(item)])).values()];
    for (const chunk of chunks(unique, MAX_TRANSACTION_ACTIONS)) {
      // One transaction of inserts for a fresh batch; a replay (some rows exist) fails it as a whole, so insert one by one.
      const inserted = await this.conditional(() =>
        this.retry('recordPendingProvisioning', () => this.table.submitTransaction(chunk.map((entity) => ['create', entity]))),
      );
      if (inserted === 'written') continue;
      for (const entity of chunk)
        await this.conditional(() => this.retry('recordPendingProvisioning', () => this.table.createEntity(entity)));
    }
  }

  private async list(filter: string, limit: number): Promise<PendingProvisioning[]> {
    return this.retry('listPendingProvisioning', async () => {
      const items: PendingProvisioning[] = [];
      const pages = this.table
        .listEntities<Record<string, unknown>>({ queryOptions: { filter } })
        .byPage({ maxPageSize: Math.min(1000, limit) });
      for await (const page of pages) {
        for (const entity of page) {
          items.push(itemOf(entity));
          if (items.length >= limit) return items;
        }
      }
      return items;
    });
  }

  listUnclaimed(limit: number): Promise<PendingProvisioning[]> {
    return this.list(odata`PartitionKey eq ${PENDING} and JobKey eq ''`, limit);
  }

  listClaimed(jobKey: string, limit: number): Promise<PendingProvisioning[]> {
    return this.list(odata`PartitionKey eq ${PENDING} and JobKey eq ${jobKey}`, limit);
  }

  async claim(items: readonly PendingProvisioning[], jobKey: string): Promise<void> {
    for (const chunk of chunks(items, MAX_TRANSACTION_ACTIONS)) {
      const actions: TableTransaction['actions'] = chunk.map((item) => [
        'update',
        { partitionKey: PENDING, rowKey: rowKeyOf(item), JobKey: jobKey, AuthType: item.authentication?.type ?? '' },
        'Merge',
      ]);
      await this.retry('claimPendingProvisioning', () => this.table.submitTransaction(actions));
    }
  }

  async remove(items: readonly PendingProvisioning[]): Promise<void> {
    for (const chunk of chunks(items, MAX_TRANSACTION_ACTIONS)) {
      const removed = await this.conditional(() =>
        this.retry('removePendingProvisioning', () =>
          this.table.submitTransaction(chunk.map((item) => ['delete', { partitionKey: PENDING, rowKey: rowKeyOf(item) }])),
        ),
      );
      if (removed === 'written') continue;
      // One row already gone (a redone page) fails the transaction: delete the rest one by one.
      for (const item of chunk) {
        await this.conditional(() => this.retry('removePendingProvisioning', () => this.table.deleteEntity(PENDING, rowKeyOf(item))));
      }
    }
  }

  async getJob(): Promise<StoredStormJob | undefined> {
    try {
      const entity = await this.retry('getStormJob', () => this.table.getEntity<Record<string, unknown>>(JOB_PARTITION, JOB_ROW));
      return { value: jobOf(entity), etag: entity.etag };
    } catch (error) {
      if (classifyServiceError(error).kind === 'notFound') return undefined;
      throw error;
    }
  }

  putJob(job: StormJob, etag: string | undefined): Promise<'written' | 'conflict'> {
    const entity = withoutUndefined({
      partitionKey: JOB_PARTITION,
      rowKey: JOB_ROW,
      JobKey: job.jobKey,
      Phase: job.phase,
      Staged: job.staged,
      JobId: job.jobId,
      FinishedAt: job.finishedAt === undefined ? undefined : new Date(job.finishedAt),
      LeaseUntil: job.leaseUntil === undefined ? undefined : new Date(job.leaseUntil),
      StartedAt: new Date(job.startedAt),
      UpdatedAt: new Date(job.updatedAt),
    });
    return this.conditional(() =>
      this.retry('putStormJob', () =>
        etag === undefined ? this.table.createEntity(entity) : this.table.updateEntity(entity, 'Replace', { etag }),
      ),
    );
  }

  clearJob(etag: string): Promise<'written' | 'conflict'> {
    return this.conditional(() => this.retry('clearStormJob', () => this.table.deleteEntity(JOB_PARTITION, JOB_ROW, { etag })));
  }
}
