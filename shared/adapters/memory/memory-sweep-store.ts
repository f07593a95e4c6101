/**
 * In-memory SweepStore with the table adapter's contract (etag conflicts, insert-if-absent shards, upserted
 * findings, opaque paging tokens): for handler tests and the benchmark.
 */
import { InvalidContinuationTokenError } from '../../errors';
import type {
  FindingRecord,
  FindingsQuery,
  ShardState,
  Stored,
  SweepRun,
  SweepStatus,
  SweepStore,
  WriteResult,
} from '../../ports/sweep-store';
import { decodePagingToken, encodePagingToken, hasOnlyKeys, isShardIndex } from '../../domain/paging-token';
import { settle } from './settle';

function findingKey(row: FindingRecord): string {
  return `${row.deviceId}\u0000${row.ruleId}`;
}

/**
 * The paging position a token names, checked as the table adapter checks its own: the shard an integer in
 * [0, shards), the key a string no longer than a finding key can be. @throws InvalidContinuationTokenError.
 */
function decodeToken(token: string, shards: number): { shard: number; after: string } {
  const parsed = decodePagingToken(token);
  const after = parsed?.['after'];
  if (parsed === undefined || !hasOnlyKeys(parsed, ['shard', 'after']) || !isShardIndex(parsed['shard'], shards)) {
    throw new InvalidContinuationTokenError();
  }
  if (typeof after !== 'string' || after.length > 2048) throw new InvalidContinuationTokenError();
  return { shard: parsed['shard'], after };
}

export class MemorySweepStore implements SweepStore {
  private readonly runs = new Map<string, Stored<SweepRun>>();
  private readonly shards = new Map<string, Stored<ShardState>>();
  /** Per `sweepId/shard`: key → row, kept in key order on read. */
  private readonly findings = new Map<string, Map<string, FindingRecord>>();
  private readonly index = new Map<string, SweepRun>();
  /** Per sweepId: page index → sampled ids. */
  private readonly samples = new Map<string, Map<number, string[]>>();
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
      const position = query.continuationToken === undefined ? { shard: 0, after: '' } : decodeToken(query.continuationToken, query.shards);
      const rows: FindingRecord[] = [];
      for (let shard = position.shard; shard < query.shards; shard++) {
        const map = this.findings.get(`${query.sweepId}/${shard}`);
        const keys = [...(map?.keys() ?? [])].sort();
        for (const key of keys) {
          if (shard === position.shard && key <= position.after) continue;
          const row = map?.get(key) as FindingRecord;
          if ((query.ruleId && row.ruleId !== query.ruleId) || (query.status && row.status !== query.status)) continue;
          if (
            (query.severity && row.severity !== query.severity) ||
            (query.deviceIdPrefix && !row.deviceId.startsWith(query.deviceIdPrefix))
          )
            continue;
          rows.push(structuredClone(row));
          if (rows.length === query.limit) {
            return { rows, continuationToken: encodePagingToken({ shard, after: key }) };
          }
        }
      }
      return { rows };
    });
  }

  async *findingsWithRepairResult(sweepId: string, shard: number, repairResult: string, pageSize: number): AsyncIterable<FindingRecord[]> {
    const map = this.findings.get(`${sweepId}/${shard}`);
    let after: string | undefined;
    for (;;) {
      const page = await settle(() => {
        const keys = [...(map?.keys() ?? [])].sort().filter((key) => after === undefined || key > after);
        const rows: FindingRecord[] = [];
        for (const key of keys) {
          const row = map?.get(key) as FindingRecord;
          if (row.repairResult !== repairResult) continue;
          rows.push(structuredClone(row));
          after = key;
          if (rows.length === pageSize) break;
        }
        return rows;
      });
      if (page.length === 0) return;
      yield page;
      if (page.length < pageSize) return;
    }
  }

  writePlanSample(sweepId: string, page: number, ids: readonly string[]): Promise<void> {
    return settle(() => {
      let pages = this.samples.get(sweepId);
      if (!pages) this.samples.set(sweepId, (pages = new Map<number, string[]>()));
      pages.set(page, [...ids]);
    });
  }

  readPlanSample(sweepId: string, pages: number): Promise<string[]> {
    return settle(() => [...(this.samples.get(sweepId)?.entries() ?? [])].filter(([page]) => page < pages).flatMap(([, ids]) => ids));
  }

  deletePlanSample(sweepId: string): Promise<void> {
    return settle(() => {
      this.samples.delete(sweepId);
    });
  }

  listRuns(query: { statuses: readonly SweepStatus[]; startedBefore?: string; limit: number }): Promise<Stored<SweepRun>[]> {
    return settle(() =>
      [...this.runs.values()]
        .filter(({ value }) => query.statuses.includes(value.status))
        .filter(({ value }) => query.startedBefore === undefined || Date.parse(value.startedAt) < Date.parse(query.startedBefore))
        .slice(0, query.limit)
        .map((stored) => structuredClone(stored)),
    );
  }

  deleteRun(run: SweepRun, maxRows: number): Promise<{ rowsDeleted: number; done: boolean }> {
    return settle(() => {
      let rowsDeleted = 0;
      const take = (): boolean => rowsDeleted < maxRows;
      for (const [partition, map] of this.findings) {
        if (!partition.startsWith(`${run.sweepId}/`)) continue;
        for (const key of [...map.keys()]) {
          if (!take()) return { rowsDeleted, done: false };
          map.delete(key);
          rowsDeleted += 1;
        }
        this.findings.delete(partition);
      }
      if (this.index.delete(run.sweepId)) rowsDeleted += 1;
      for (const key of [...this.shards.keys()]) {
        if (!key.startsWith(`${run.sweepId}/`)) continue;
        if (!take()) return { rowsDeleted, done: false };
        this.shards.delete(key);
        rowsDeleted += 1;
      }
      this.samples.delete(run.sweepId);
      if (this.runs.delete(run.sweepId)) rowsDeleted += 1;
      return { rowsDeleted, done: true };
    });
  }

  /** Every finding row of a sweep (test introspection). */
  allFindings(sweepId: string): FindingRecord[] {
    return [...this.findings.entries()].filter(([key]) => key.startsWith(`${sweepId}/`)).flatMap(([, map]) => [...map.values()]);
  }
}
