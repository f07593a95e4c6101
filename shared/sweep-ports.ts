/**
 * Ports of the compliance sweep, in the style of shared/ports.ts: one interface per external service, each with a
 * real adapter (Table storage, Storage Queue, IoT Hub import jobs over Blob storage) and an in-memory one.
 */
import type { RuleId, Suppression } from './domain/compliance-rules';
import type { SweepCounters } from './domain/sweep-summary';

export type SweepTrigger = 'schedule' | 'api';
export type SweepStatus = 'planning' | 'running' | 'importing' | 'completed' | 'failed';

/** The result of a finished sweep (SweepRuns row, also copied to the recent-runs index). */
export interface SweepSummary {
  counters: SweepCounters;
  compliantShare: number;
  durationMs: number;
  importJob?: { jobId: string; status: string; staged: number; failed: number; failureReason?: string; failures?: { deviceId: string; message: string }[] };
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

export interface SuppressionStore {
  list(): Promise<Suppression[]>;
  get(id: string): Promise<Suppression | undefined>;
  put(suppression: Suppression): Promise<void>;
  /** False when there was nothing to delete. */
  delete(id: string): Promise<boolean>;
}

export type SweepMessage =
  | { kind: 'plan'; sweepId: string }
  | { kind: 'shard'; sweepId: string; shard: number }
  | { kind: 'finalize'; sweepId: string }
  | { kind: 'importJob'; sweepId: string; jobId: string };

export interface SweepQueue {
  /** At-least-once: a message may be delivered twice; every handler step is idempotent. */
  send(message: SweepMessage, visibilityDelaySeconds?: number): Promise<void>;
}

export interface ImportJobStatus {
  status: 'running' | 'completed' | 'failed';
  failureReason?: string;
  /** Lines the job rejected (from the output blob), device by device. */
  errors: Array<{ deviceId: string; message: string }>;
}

/**
 * IoT Hub bulk import of module identities: lines are staged per bucket (idempotently, keyed by `blockKey`) while
 * shards run, then committed as one `devices.txt` and imported by one job (IoT Hub allows one import/export job at a
 * time per hub).
 */
export interface ModuleImportJobs {
  stage(sweepId: string, blockKey: string, lines: string[]): Promise<void>;
  /** Commits the staged blocks in key order and starts the job; returns its id and how many lines were staged. */
  start(sweepId: string): Promise<{ jobId: string; staged: number }>;
  status(sweepId: string, jobId: string): Promise<ImportJobStatus>;
}
