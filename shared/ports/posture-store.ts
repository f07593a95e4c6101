/**
 * Latest posture and posture history per device. Real adapter: shared/adapters/table-posture-store.ts (Azure Table
 * storage); in memory: shared/adapters/memory/memory-posture-store.ts.
 */
import type { HistoryEntry, LatestPosture } from '../domain/types';

export interface StoredLatest {
  posture: LatestPosture;
  etag: string;
}

export type LatestWriteResult = 'written' | 'conflict';

export interface HistoryQuery {
  from?: Date;
  to?: Date;
  limit: number;
  continuationToken?: string;
}

export interface HistoryPage {
  entries: HistoryEntry[];
  continuationToken?: string;
}

/** One device's outcome of a batch: its new history rows and latest posture, written against `etag`. */
export interface PostureChange {
  history: HistoryEntry[];
  latest: LatestPosture;
  /** Etag the latest posture was read with; undefined = the device had none (create). */
  etag: string | undefined;
}

export interface PostureStore {
  /** The latest posture; a store may answer from rows it read or wrote itself (writers: a stale row only costs a conflict). */
  getLatest(deviceId: string): Promise<StoredLatest | undefined>;
  /**
   * The latest posture as stored now, never a cached copy: for readers (the HTTP API) that must see what another
   * writer (the sweep, another instance) wrote since.
   */
  readLatest(deviceId: string): Promise<StoredLatest | undefined>;
  /** Latest postures of many devices (absent ones are missing from the map), in as few reads as the store allows. */
  getLatestMany(deviceIds: readonly string[]): Promise<Map<string, StoredLatest>>;
  /**
   * Writes many devices' changes in as few requests as the store allows: every history row first
   * (idempotent upserts), then each latest posture conditionally on its etag. Returns the devices
   * whose latest posture could not be written because it changed underneath (or was written
   * together with one that did): the caller re-reads and retries those one by one.
   */
  commit(changes: readonly PostureChange[]): Promise<{ conflicts: string[] }>;
  /**
   * Upserts history rows (deterministic keys: a replay overwrites) in ≤100-entity transactions per
   * device partition. Idempotent.
   */
  appendHistory(entries: HistoryEntry[]): Promise<void>;
  /**
   * Writes the latest posture with optimistic concurrency: `etag` undefined means "create, fail if it
   * exists". Returns 'conflict' on 409/412 so the caller can re-read and re-merge.
   */
  writeLatest(posture: LatestPosture, etag: string | undefined): Promise<LatestWriteResult>;
  listHistory(deviceId: string, query: HistoryQuery): Promise<HistoryPage>;
}
