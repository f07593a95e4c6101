/**
 * In-memory SweepStore, SuppressionStore and SweepQueue with the table/queue adapters' contracts (etag conflicts,
 * insert-if-absent shards, upserted findings, opaque paging tokens): for handler tests and the benchmark.
 */
import { InvalidContinuationTokenError } from '../../errors';
import type { Suppression } from '../../domain/compliance-rules';
import type { FindingRecord, FindingsQuery, ShardState, Stored, SweepRun, SweepStore, WriteResult } from '../../ports/sweep-store';
import type { SuppressionStore } from '../../ports/suppression-store';
import type { SweepMessage, SweepQueue } from '../../ports/sweep-queue';

function findingKey(row: FindingRecord): string {
  return `${row.deviceId}\u0000${row.ruleId}`;
}

export class MemorySweepStore implements SweepStore {
  private readonly runs = new Map<string, Stored<SweepRun>>();
  private readonly shards = new Map<string, Stored<ShardState>>();
  /** Per `sweepId/shard`: key → row, kept in key order on read. */
  private readonly findings = new Map<string, Map<string, FindingRecord>>();
  private readonly index = new Map<string, SweepRun>();
  private etag = 0;

  private nextEtag(): string {
    this.etag += 1;
    return `memory-${this.etag}`;
  }

  async createRun(run: SweepRun): Promise<WriteResult> {
    if (this.runs.has(run.sweepId)) return 'conflict';
    this.runs.set(run.sweepId, { value: structuredClone(run), etag: this.nextEtag() });
    return 'written';
  }

  async getRun(sweepId: string): Promise<Stored<SweepRun> | undefined> {
    const stored = this.runs.get(sweepId);
    return stored && structuredClone(stored);
  }

  async updateRun(run: SweepRun, etag: string): Promise<WriteResult> {
    const stored = this.runs.get(run.sweepId);
    if (!stored || stored.etag !== etag) return 'conflict';
    this.runs.set(run.sweepId, { value: structuredClone(run), etag: this.nextEtag() });
    return 'written';
  }

  async createShards(shards: ShardState[]): Promise<void> {
    for (const shard of shards) {
      const key = `${shard.sweepId}/${shard.shard}`;
      if (!this.shards.has(key)) this.shards.set(key, { value: structuredClone(shard), etag: this.nextEtag() });
    }
  }

  async getShard(sweepId: string, shard: number): Promise<Stored<ShardState> | undefined> {
    const stored = this.shards.get(`${sweepId}/${shard}`);
    return stored && structuredClone(stored);
  }

  async updateShard(shard: ShardState, etag: string): Promise<WriteResult> {
    const key = `${shard.sweepId}/${shard.shard}`;
    const stored = this.shards.get(key);
    if (!stored || stored.etag !== etag) return 'conflict';
    this.shards.set(key, { value: structuredClone(shard), etag: this.nextEtag() });
    return 'written';
  }

  async listShards(sweepId: string): Promise<ShardState[]> {
    return [...this.shards.values()].filter((stored) => stored.value.sweepId === sweepId).map((stored) => structuredClone(stored.value)).sort((a, b) => a.shard - b.shard);
  }

  async listRecentRuns(limit: number): Promise<SweepRun[]> {
    return [...this.index.values()].sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0)).slice(0, limit).map((run) => structuredClone(run));
  }

  async indexRun(run: SweepRun): Promise<void> {
    this.index.set(run.sweepId, structuredClone(run));
  }

  async writeFindings(rows: FindingRecord[]): Promise<void> {
    for (const row of rows) {
      const partition = `${row.sweepId}/${row.shard}`;
      let map = this.findings.get(partition);
      if (!map) this.findings.set(partition, (map = new Map()));
      map.set(findingKey(row), structuredClone(row));
    }
  }

  async listFindings(query: FindingsQuery): Promise<{ rows: FindingRecord[]; continuationToken?: string }> {
    let position = { shard: 0, after: '' };
    if (query.continuationToken !== undefined) {
      try {
        const parsed = JSON.parse(Buffer.from(query.continuationToken, 'base64').toString('utf8')) as { shard?: unknown; after?: unknown };
        if (typeof parsed.shard !== 'number' || typeof parsed.after !== 'string') throw new Error('bad');
        position = { shard: parsed.shard, after: parsed.after };
      } catch {
        throw new InvalidContinuationTokenError();
      }
    }
    const rows: FindingRecord[] = [];
    for (let shard = position.shard; shard < query.shards; shard++) {
      const map = this.findings.get(`${query.sweepId}/${shard}`);
      const keys = [...(map?.keys() ?? [])].sort();
      for (const key of keys) {
        if (shard === position.shard && key <= position.after) continue;
        const row = map?.get(key) as FindingRecord;
        if ((query.ruleId && row.ruleId !== query.ruleId) || (query.status && row.status !== query.status)) continue;
        rows.push(structuredClone(row));
        if (rows.length === query.limit) {
          return { rows, continuationToken: Buffer.from(JSON.stringify({ shard, after: key })).toString('base64') };
        }
      }
    }
    return { rows };
  }

  /** Every finding row of a sweep (test introspection). */
  allFindings(sweepId: string): FindingRecord[] {
    return [...this.findings.entries()].filter(([key]) => key.startsWith(`${sweepId}/`)).flatMap(([, map]) => [...map.values()]);
  }
}

export class MemorySuppressionStore implements SuppressionStore {
  private readonly items = new Map<string, Suppression>();

  async list(): Promise<Suppression[]> {
    return [...this.items.values()].map((item) => structuredClone(item));
  }

  async get(id: string): Promise<Suppression | undefined> {
    const item = this.items.get(id);
    return item && structuredClone(item);
  }

  async put(suppression: Suppression): Promise<void> {
    this.items.set(suppression.id, structuredClone(suppression));
  }

  async delete(id: string): Promise<boolean> {
    return this.items.delete(id);
  }
}

/** A queue whose messages the caller drains explicitly (`drain` runs a handler until the queue is empty). */
export class MemorySweepQueue implements SweepQueue {
  readonly messages: SweepMessage[] = [];

  async send(message: SweepMessage): Promise<void> {
    this.messages.push(structuredClone(message));
  }

  /**
   * Delivers messages until none are left; a handler that throws gets its message redelivered (at the end), as a
   * Storage Queue would after the visibility timeout, up to `maxDeliveries` times.
   */
  async drain(handler: (message: SweepMessage, deliveryCount: number) => Promise<void>, maxDeliveries = 5): Promise<number> {
    const deliveries = new Map<SweepMessage, number>();
    let handled = 0;
    for (let message = this.messages.shift(); message !== undefined; message = this.messages.shift()) {
      const count = (deliveries.get(message) ?? 0) + 1;
      deliveries.set(message, count);
      try {
        await handler(message, count);
        handled += 1;
      } catch (error) {
        if (count >= maxDeliveries) throw error;
        this.messages.push(message);
      }
    }
    return handled;
  }
}
