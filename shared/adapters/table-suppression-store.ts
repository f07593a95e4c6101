/**
 * SuppressionStore on Azure Table storage.
 *
 * ComplianceSuppressions — PartitionKey `suppression`, RowKey = id: RuleId (`*` = all), DeviceId or Selector (twin
 * condition), Reason, CreatedAt, ExpiresAt (DateTime, absent = no expiry).
 */
import { retryTableCall } from './table-retry';
import { odata, type TableClient, type TableEntity } from '@azure/data-tables';
import type { Suppression } from '../domain/compliance-rules';
import { classifyServiceError } from '../errors';
import type { SuppressionStore } from '../ports/suppression-store';
import { isoString as iso, stringValue as str } from './entity-values';
import { withoutUndefined } from './table-clients';
import type { TableSweepStoreOptions } from './table-sweep-store';

type Entity = TableEntity<Record<string, unknown>>;

const SUPPRESSION_PARTITION = 'suppression';

function suppressionFrom(entity: Record<string, unknown>): Suppression {
  const suppression: Suppression = {
    id: str(entity.rowKey) ?? '',
    ruleId: (str(entity.RuleId) ?? '*') as Suppression['ruleId'],
    reason: str(entity.Reason) ?? '',
    createdAt: iso(entity.CreatedAt) ?? '',
  };
  const deviceId = str(entity.DeviceId);
  const selector = str(entity.Selector);
  const expiresAt = iso(entity.ExpiresAt);
  if (deviceId !== undefined) suppression.deviceId = deviceId;
  if (selector !== undefined) suppression.selector = selector;
  if (expiresAt !== undefined) suppression.expiresAt = expiresAt;
  return suppression;
}

export class TableSuppressionStore implements SuppressionStore {
  constructor(
    private readonly table: TableClient,
    private readonly options: TableSweepStoreOptions,
  ) {}

  private retry<T>(name: string, call: () => Promise<T>): Promise<T> {
    return retryTableCall(this.options, name, call);
  }

  list(): Promise<Suppression[]> {
    return this.retry('listSuppressions', async () => {
      const items: Suppression[] = [];
      for await (const entity of this.table.listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey eq ${SUPPRESSION_PARTITION}` },
      }))
        items.push(suppressionFrom(entity));
      return items;
    });
  }

  async get(id: string): Promise<Suppression | undefined> {
    try {
      return suppressionFrom(
        await this.retry('getSuppression', () => this.table.getEntity<Record<string, unknown>>(SUPPRESSION_PARTITION, id)),
      );
    } catch (error) {
      if (classifyServiceError(error).kind === 'notFound') return undefined;
      throw error;
    }
  }

  async put(suppression: Suppression): Promise<void> {
    const entity = withoutUndefined<Entity>({
      partitionKey: SUPPRESSION_PARTITION,
      rowKey: suppression.id,
      RuleId: suppression.ruleId,
      DeviceId: suppression.deviceId,
      Selector: suppression.selector,
      Reason: suppression.reason,
      CreatedAt: new Date(suppression.createdAt),
      ExpiresAt: suppression.expiresAt === undefined ? undefined : new Date(suppression.expiresAt),
    });
    await this.retry('putSuppression', () => this.table.upsertEntity(entity, 'Replace'));
  }

  async delete(id: string): Promise<boolean> {
    try {
      await this.retry('deleteSuppression', () => this.table.deleteEntity(SUPPRESSION_PARTITION, id));
      return true;
    } catch (error) {
      if (classifyServiceError(error).kind === 'notFound') return false;
      throw error;
    }
  }
}
