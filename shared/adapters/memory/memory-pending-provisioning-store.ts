/** In-memory PendingProvisioningStore with the Table adapter's semantics (insert-only rows, etag-guarded job row). */
import { pendingProvisioningKey } from '../../domain/registration-storm';
import type { PendingProvisioning, PendingProvisioningStore, StormJob, StoredStormJob } from '../../ports/pending-provisioning-store';
import { settle } from './settle';

export class MemoryPendingProvisioningStore implements PendingProvisioningStore {
  readonly rows = new Map<string, PendingProvisioning>();
  private job: StoredStormJob | undefined;
  private etags = 0;

  record(items: readonly PendingProvisioning[]): Promise<void> {
    return settle(() => {
      for (const item of items) {
        const key = pendingProvisioningKey(item.deviceId, item.position);
        if (!this.rows.has(key)) this.rows.set(key, structuredClone(item));
      }
    });
  }

  private sorted(filter: (item: PendingProvisioning) => boolean, limit: number): PendingProvisioning[] {
    return [...this.rows.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, item]) => item)
      .filter(filter)
      .slice(0, limit)
      .map((item) => structuredClone(item));
  }

  listUnclaimed(limit: number): Promise<PendingProvisioning[]> {
    return settle(() => this.sorted((item) => item.jobKey === undefined, limit));
  }

  listClaimed(jobKey: string, limit: number): Promise<PendingProvisioning[]> {
    return settle(() => this.sorted((item) => item.jobKey === jobKey, limit));
  }

  claim(items: readonly PendingProvisioning[], jobKey: string): Promise<void> {
    return settle(() => {
      for (const item of items) {
        const row = this.rows.get(pendingProvisioningKey(item.deviceId, item.position));
        if (!row) throw Object.assign(new Error('pending provisioning row not found'), { statusCode: 404 });
        row.jobKey = jobKey;
        if (item.authentication) row.authentication = { ...item.authentication };
      }
    });
  }

  remove(items: readonly PendingProvisioning[]): Promise<void> {
    return settle(() => {
      for (const item of items) this.rows.delete(pendingProvisioningKey(item.deviceId, item.position));
    });
  }

  getJob(): Promise<StoredStormJob | undefined> {
    return settle(() => (this.job ? structuredClone(this.job) : undefined));
  }

  putJob(job: StormJob, etag: string | undefined): Promise<'written' | 'conflict'> {
    return settle(() => {
      if (etag === undefined ? this.job !== undefined : this.job?.etag !== etag) return 'conflict';
      this.job = { value: structuredClone(job), etag: `m${++this.etags}` };
      return 'written';
    });
  }

  clearJob(etag: string): Promise<'written' | 'conflict'> {
    return settle(() => {
      if (this.job?.etag !== etag) return 'conflict';
      this.job = undefined;
      return 'written';
    });
  }
}
