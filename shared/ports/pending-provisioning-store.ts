/**
 * Module creations a registration storm deferred to an IoT Hub import job, and the one job in flight per hub. Real
 * adapter: shared/adapters/table-pending-provisioning-store.ts; in memory: shared/adapters/memory/memory-pending-provisioning-store.ts.
 */
import type { AutomaticModuleAuthentication } from '../domain/module-authentication';
import type { EventPosition, JsonObject } from '../domain/types';

/** One deferred module creation, keyed by the device-created event that asked for it (a replay finds its own row). */
export interface PendingProvisioning {
  deviceId: string;
  moduleId: string;
  /**
   * The module's authentication; undefined when the notification did not say how the device authenticates or whether
   * it is an Edge device (the import step asks the registry, one query per page of such devices).
   */
  authentication?: AutomaticModuleAuthentication;
  /** The baseline desired properties the module is created with. */
  desired: JsonObject;
  /** The device-created event. */
  position: EventPosition;
  /** The import job this row was claimed by (its key); undefined while it waits for one. */
  jobKey?: string;
}

export type StormJobPhase = 'claiming' | 'staging' | 'submitting' | 'submitted' | 'recording';

/**
 * The hub's one registration-storm import job, from claiming rows to recording their outcomes. `submitting` is written
 * before the job is created, so a crash between creating it and recording its id is resumed by adopting the job that
 * reads this job's container (never by creating a second one).
 */
export interface StormJob {
  jobKey: string;
  phase: StormJobPhase;
  /** Lines staged for the job. */
  staged: number;
  jobId?: string;
  /** When the job was seen finished (the time of every outcome entry it produces, so a replay rewrites the same rows). */
  finishedAt?: string;
  /** While `submitting`: another instance leaves the job alone until then (the holder may be creating the job). */
  leaseUntil?: string;
  startedAt: string;
  updatedAt: string;
}

export interface StoredStormJob {
  value: StormJob;
  etag: string;
}

export interface PendingProvisioningStore {
  /** Inserts rows that are not there yet; a row already recorded (a replayed event) is left exactly as it is. */
  record(items: readonly PendingProvisioning[]): Promise<void>;
  /** Up to `limit` rows no job has claimed, in key order. */
  listUnclaimed(limit: number): Promise<PendingProvisioning[]>;
  /** Marks rows as claimed by `jobKey`, with their (now resolved) authentication (idempotent). */
  claim(items: readonly PendingProvisioning[], jobKey: string): Promise<void>;
  /** Up to `limit` rows claimed by `jobKey`, in key order. */
  listClaimed(jobKey: string, limit: number): Promise<PendingProvisioning[]>;
  /** Deletes rows whose outcome is recorded (absent rows are fine). */
  remove(items: readonly PendingProvisioning[]): Promise<void>;
  getJob(): Promise<StoredStormJob | undefined>;
  /** Creates (etag undefined) or replaces the job row conditionally; 'conflict' when someone else changed it first. */
  putJob(job: StormJob, etag: string | undefined): Promise<'written' | 'conflict'>;
  /** Deletes the job row conditionally, once every outcome is recorded. */
  clearJob(etag: string): Promise<'written' | 'conflict'>;
}
