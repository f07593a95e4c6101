/** Sweep runs, shard cursors and findings. Real adapter: shared/adapters/table-sweep-store.ts; in memory: shared/adapters/memory/memory-sweep-store.ts. */
import type { RuleId } from '../domain/compliance-rules';
import type { SweepCounters } from '../domain/sweep-summary';

export type SweepTrigger = 'schedule' | 'api';
export type SweepStatus = 'planning' | 'running' | 'importing' | 'completed' | 'failed';

/** The result of a finished sweep (SweepRuns row, also copied to the recent-runs index). */
export interface SweepSummary {
  counters: SweepCounters;
  compliantShare: number;
  durationMs: number;
  importJob?: {
    jobId: string;
    status: string;
    staged: number;
    failed: number;
    failureReason?: string;
    failures?: { deviceId: string; message: string }[];
  };
}

export interface SweepRun {
  sweepId: string;
  trigger: SweepTrigger;
  dryRun: boolean;
  status: SweepStatus;
  /** ISO; rules measure staleness and inactivity against this instant, so a resumed shard decides alike. */
  startedAt: string;
  completedAt?: string;
  /** Set once planned; never recomputed, so redelivered plan messages reuse it. */
  plan?: { splits: string[]; shards: number; buckets: number; fleetSize: number; estimatedMissingModules: number; bulkImport: boolean };
  summary?: SweepSummary;
  error?: string;
}

export interface ShardState {
  sweepId: string;
  shard: number;
  startBucket: number;
  endBucket: number;
  /** Cursor: the next bucket to process. Advanced only after the bucket's rows are written. */
  nextBucket: number;
  status: 'pending' | 'running' | 'done';
  counters: SweepCounters;
  invocations: number;
  updatedAt: string;
}

export interface Stored<T> {
  value: T;
  etag: string;
}

export type WriteResult = 'written' | 'conflict';

/** One finding of one device in one sweep (SweepFindings row). */
export interface FindingRecord {
  sweepId: string;
  shard: number;
  bucket: number;
  deviceId: string;
  ruleId: RuleId;
  severity: string;
  status: 'violation' | 'suppressed';
  message: string;
  suppressionId?: string;
  repairAction?: string;
  repairResult?: string;
}

export interface FindingsQuery {
  sweepId: string;
  shards: number;
  ruleId?: string;
  status?: 'violation' | 'suppressed';
  limit: number;
  continuationToken?: string;
}

export interface SweepStore {
  /** Creates the run; 'conflict' when a run with this id exists (a re-fired timer). */
  createRun(run: SweepRun): Promise<WriteResult>;
  getRun(sweepId: string): Promise<Stored<SweepRun> | undefined>;
  /** Replaces the run when `etag` still matches. */
  updateRun(run: SweepRun, etag: string): Promise<WriteResult>;
  /** Inserts shard rows that do not exist yet; existing ones (and their cursors) are kept. */
  createShards(shards: ShardState[]): Promise<void>;
  getShard(sweepId: string, shard: number): Promise<Stored<ShardState> | undefined>;
  updateShard(shard: ShardState, etag: string): Promise<WriteResult>;
  listShards(sweepId: string): Promise<ShardState[]>;
  /** Newest first; completed runs only (written at completion). */
  listRecentRuns(limit: number): Promise<SweepRun[]>;
  /** Records a completed run in the recent-runs index (idempotent). */
  indexRun(run: SweepRun): Promise<void>;
  /** Upserts rows (≤100-entity transactions per partition); a re-run bucket overwrites its own rows. */
  writeFindings(rows: FindingRecord[]): Promise<void>;
  /** Pages findings shard partition by shard partition; the token is opaque. Throws InvalidContinuationTokenError. */
  listFindings(query: FindingsQuery): Promise<{ rows: FindingRecord[]; continuationToken?: string }>;
}
