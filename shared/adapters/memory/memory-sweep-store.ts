/**
 * In-memory SweepStore with the table adapter's contract (etag conflicts, insert-if-absent shards, upserted
 * findings, opaque paging tokens): for handler tests and the benchmark.
 */
import { InvalidContinuationTokenError } from '../../errors';
import type { FindingRecord, FindingsQuery, ShardState, Stored, SweepRun, SweepStore, WriteResult } from '../../ports/sweep-store';
import { settle } from './settle';

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

  createRun(run: SweepRun): Promise<WriteResult> {
    return settle(() => {
      if (this.runs.has(run.sweepId)) return 'conflict';
      this.runs.set(run.sweepId, { value: structuredClone(run), etag: this.nextEtag() });
      return 'written';
    });
  }

  getRun(sweepId: string): Promise<Stored<SweepRun> | undefined> {
    return settle(() => {
      const stored = this.runs.get(sweepId);
      return stored && structuredClone(stored);
    });
  }

  updateRun(run: SweepRun, etag: string): Promise<WriteResult> {
    return settle(() => {
      const stored = this.runs.get(run.sweepId);
      if (!stored || stored.etag !== etag) return 'conflict';
      this.runs.set(run.sweepId, { value: structuredClone(run), etag: this.nextEtag() });
      return 'written';
    });
  }

  createShards(shards: ShardState[]): Promise<void> {
    return settle(() => {
      for (const shard of shards) {
        const key = `${shard.sweepId}/${shard.shard}`;
        if (!this.shards.has(key)) this.shards.set(key, { value: structuredClone(shard), etag: this.nextEtag() });
      }
    });
  }

  getShard(sweepId: string, shard: number): Promise<Stored<ShardState> | undefined> {
    return settle(() => {
      const stored = this.shards.get(`${sweepId}/${shard}`);
      return stored && structuredClone(stored);
    });
  }

  updateShard(shard: ShardState, etag: string): Promise<WriteResult> {
    return settle(() => {
      const key = `${shard.sweepId}/${shard.shard}`;
      const stored = this.shards.get(key);
      if (!stored || stored.etag !== etag) return 'conflict';
      this.shards.set(key, { value: structuredClone(shard), etag: this.nextEtag() });
      return 'written';
    });
  }

  listShards(sweepId: string): Promise<ShardState[]> {
    return settle(() =>
      [...this.shards.values()]
        .filter((stored) => stored.value.sweepId === sweepId)
        .map((stored) => structuredClone(stored.value))
        .sort((a, b) => a.shard - b.shard),
    );
  }

  listRecentRuns(limit: number): Promise<SweepRun[]> {
    return settle(() =>
      [...this.index.values()]
        .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
        .slice(0, limit)
        .map((run) => structuredClone(run)),
    );
  }

  indexRun(run: SweepRun): Promise<void> {
    return settle(() => {
      this.index.set(run.sweepId, structuredClone(run));
    });
  }

  writeFindings(rows: FindingRecord[]): Promise<void> {
    return settle(() => {
      for (const row of rows) {
        const partition = `${row.sweepId}/${row.shard}`;
        let map = this.findings.get(partition);
        if (!map) this.findings.set(partition, (map = new Map<string, FindingRecord>()));
        map.set(findingKey(row), structuredClone(row));
      }
    });
  }

  listFindings(query: FindingsQuery): Promise<{ rows: FindingRecord[]; continuationToken?: string }> {
    return settle(() => {
      let position = { shard: 0, after: '' };
      if (query.continuationToken !== undefined) {
        try {
          const parsed = JSON.parse(Buffer.from(query.continuationToken, 'base64').toString('utf8')) as {
            shard?: unknown;
            after?: unknown;
          };
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
    });
  }

  /** Every finding row of a sweep (test introspection). */
  allFindings(sweepId: string): FindingRecord[] {
    return [...this.findings.entries()].filter(([key]) => key.startsWith(`${sweepId}/`)).flatMap(([, map]) => [...map.values()]);
  }
}
