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

/**
 * Planning progress, persisted after every page of the device-id walk so a planning step cut off by its time
 * budget (or a crash) resumes where the last committed page ended. Dropped once the plan is set.
 */
export interface PlanningProgress {
  /** `SELECT COUNT()` of devices and of security modules when planning began (the sampling rate and the bulk-import estimate). */
  deviceCount: number;
  moduleCount: number;
  /** Pages of the walk committed so far; their sampled ids are stored with writePlanSample under these indexes. */
  pages: number;
  /** Device ids seen in the committed pages (the fleet size the splits are cut for). */
  devicesSeen: number;
  /** Continuation of the walk after the last committed page; absent once the walk is done. */
  continuationToken?: string;
  done: boolean;
  /** Registry queries (and throttled responses) planning has cost so far; charged to shard 0 once the plan is set. */
  queries: number;
  throttles: number;
}

/** Where the post-import rewrite of finding rows has got to (the shards before `nextShard` are rewritten). */
export interface ImportResultsProgress {
  nextShard: number;
  rowsRewritten: number;
}

/** Retention cleanup run by a completed sweep (pending until every expired run is deleted). */
export interface RetentionProgress {
  status: 'pending' | 'done';
  /** Runs started before this instant (ISO) are expired. */
  cutoff: string;
  runsDeleted: number;
  rowsDeleted: number;
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
  plan?: {
    splits: string[];
    shards: number;
    buckets: number;
    fleetSize: number;
    estimatedMissingModules: number;
    bulkImport: boolean;
    /** What planning cost, over all its invocations. */
    cost?: { queries: number; throttles: number };
  };
  summary?: SweepSummary;
  /** Set with status `failed`: the step that failed and why. */
  error?: string;
  /** ISO; the last time a step recorded progress on the run row (stalled runs are found by it and the shards' updatedAt). */
  updatedAt?: string;
  planning?: PlanningProgress;
  importResults?: ImportResultsProgress;
  retention?: RetentionProgress;
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
  /** Why the repair failed (e.g. the import job's error line for this device). */
  repairError?: string;
  /** The IoT Hub automatic configuration that manages the device's security module (its id). */
  managedBy?: string;
  /** Mitigations applied for this violation's rule (shared/services/sweep/mitigate-bucket.ts). */
  mitigations?: { action: string; result: string }[];
}

export interface FindingsQuery {
  sweepId: string;
  shards: number;
  ruleId?: string;
  status?: 'violation' | 'suppressed';
  severity?: string;
  /** Only devices whose id starts with this (ASCII, ids are ASCII). */
  deviceIdPrefix?: string;
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
  /**
   * Pages (≤ `pageSize` rows each) of one shard's findings whose repairResult is `repairResult`, in key order. Rows
   * the caller rewrites to another result while iterating are simply not seen again by a later call.
   */
  findingsWithRepairResult(sweepId: string, shard: number, repairResult: string, pageSize: number): AsyncIterable<FindingRecord[]>;

  /** Stores the ids sampled from page `page` of the planning walk, replacing whatever an earlier try stored for that page. */
  writePlanSample(sweepId: string, page: number, ids: readonly string[]): Promise<void>;
  /** The sampled ids of pages 0 … pages-1, in no particular order. */
  readPlanSample(sweepId: string, pages: number): Promise<string[]>;
  /** Deletes every stored sample page of the run (idempotent). */
  deletePlanSample(sweepId: string): Promise<void>;

  /** Runs (with their etags) in the given statuses, optionally started before an instant (ISO); at most `limit`, in no particular order. */
  listRuns(query: { statuses: readonly SweepStatus[]; startedBefore?: string; limit: number }): Promise<Stored<SweepRun>[]>;
  /**
   * Deletes at most `maxRows` rows of a run: its findings first, then its recent-runs index row, shard and sample rows,
   * and the run row last, so an interrupted deletion is found again and finished by the next call. `done` once the
   * run row is gone (idempotent: a run already deleted is done).
   */
  deleteRun(run: SweepRun, maxRows: number): Promise<{ rowsDeleted: number; done: boolean }>;
}
