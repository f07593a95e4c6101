/**
 * MitigationAuditStore on Azure Table storage.
 *
 * MitigationAudit — PartitionKey = UTC month `yyyymm` of the application, RowKey =
 * `<inverted ticks>_<encoded request id>_<encoded device id>_<action>` (newest first; a sweep's entries carry the
 * sweep's start time, so a redone bucket overwrites its own rows): At, Who, Source, RequestId, SweepId, DeviceId,
 * Action, Result, RuleIds (comma list), DryRun.
 */
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { encodeKeySegment, invertedTicks } from '../domain/table-keys';
import type { MitigationAuditEntry, MitigationAuditStore } from '../ports/mitigation-audit';
import { retryTransient } from '../retry';
import { isoString as iso, stringValue as str } from './entity-values';
import { planUpsertTransactions } from './table-clients';
import type { TableSweepStoreOptions } from './table-sweep-store';

export function auditMonth(at: Date): string {
  return at.toISOString().slice(0, 7).replace('-', '');
}

function entityOf(entry: MitigationAuditEntry) {
  const at = new Date(entry.at);
  return {
    partitionKey: auditMonth(at),
    rowKey: `${invertedTicks(at)}_${encodeKeySegment(entry.requestId)}_${encodeKeySegment(entry.deviceId)}_${entry.action}`,
    At: at,
    Who: entry.who,
    Source: entry.source,
    RequestId: entry.requestId,
    SweepId: entry.sweepId,
    DeviceId: entry.deviceId,
    Action: entry.action,
    Result: entry.result,
    RuleIds: entry.ruleIds.join(','),
    DryRun: entry.dryRun,
  };
}

function entryFrom(entity: Record<string, unknown>): MitigationAuditEntry {
  const rules = str(entity.RuleIds) ?? '';
  return {
    at: iso(entity.At) ?? '',
    who: str(entity.Who) ?? '',
    source: str(entity.Source) === 'sweep' ? 'sweep' : 'api',
    requestId: str(entity.RequestId) ?? '',
    sweepId: str(entity.SweepId) ?? '',
    deviceId: str(entity.DeviceId) ?? '',
    action: str(entity.Action) ?? '',
    result: str(entity.Result) ?? '',
    ruleIds: rules === '' ? [] : rules.split(','),
    dryRun: entity.DryRun === true,
  };
}

export class TableMitigationAudit implements MitigationAuditStore {
  constructor(
    private readonly table: TableClient,
    private readonly options: TableSweepStoreOptions,
  ) {}

  private retry<T>(name: string, call: () => Promise<T>): Promise<T> {
    const { retryBudgetMs: budgetMs, sleep, logger } = this.options;
    return retryTransient(call, { budgetMs, operationName: name, sleep, logger, retryMessage: 'table storage call retried' });
  }

  async record(entries: readonly MitigationAuditEntry[]): Promise<void> {
    for (const transaction of planUpsertTransactions(entries.map(entityOf))) {
      const actions: TransactionAction[] = transaction.map((entity) => ['upsert', entity, 'Replace']);
      await this.retry('recordMitigationAudit', () => this.table.submitTransaction(actions));
    }
  }

  list(query: { month: string; limit: number; after?: string }): Promise<{ entries: MitigationAuditEntry[]; next?: string }> {
    return this.retry('listMitigationAudit', async () => {
      const filter =
        query.after === undefined
          ? odata`PartitionKey eq ${query.month}`
          : odata`PartitionKey eq ${query.month} and RowKey gt ${query.after}`;
      const entries: MitigationAuditEntry[] = [];
      let lastKey: string | undefined;
      let more = false;
      for await (const entity of this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
        if (entries.length >= query.limit) {
          more = true;
          break;
        }
        entries.push(entryFrom(entity));
        lastKey = str(entity.rowKey);
      }
      return more && lastKey !== undefined ? { entries, next: lastKey } : { entries };
    });
  }
}
