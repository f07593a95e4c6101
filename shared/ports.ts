/**
 * One interface per external service. Each has one real adapter (shared/adapters) and an in-memory
 * adapter for handler tests and benchmarks (shared/adapters/memory).
 */
import type { AuthenticationType, DeadLetter, HistoryEntry, JsonObject, LatestPosture } from './domain/types';

export interface DeviceIdentity {
  deviceId: string;
  status: 'enabled' | 'disabled';
  authType: AuthenticationType;
  iotEdge: boolean;
  etag?: string;
}

export interface ModuleIdentity {
  deviceId: string;
  moduleId: string;
  authType: AuthenticationType;
  connectionState?: string;
  lastActivityTime?: string;
  managedBy?: string;
}

export type ModuleAuthentication = { type: 'sas' } | { type: 'certificateAuthority' } | { type: 'selfSigned'; primaryThumbprint: string; secondaryThumbprint?: string };

export type CreateModuleResult = 'created' | 'alreadyExists' | 'deviceNotFound';

export interface ModuleTwin {
  deviceId: string;
  moduleId: string;
  etag: string;
  version: number;
  tags: JsonObject;
  desired: JsonObject;
  reported: JsonObject;
  authType?: AuthenticationType;
}

export interface TwinQueryPage<T = JsonObject> {
  items: T[];
  continuationToken?: string;
}

/**
 * IoT Hub service operations. Implementations retry throttling (429) and transient (5xx, timeouts)
 * failures within a time budget and throw TransientError when the budget is spent.
 */
export interface DeviceRegistry {
  getDevice(deviceId: string): Promise<DeviceIdentity | undefined>;
  getModule(deviceId: string, moduleId: string): Promise<ModuleIdentity | undefined>;
  createModule(deviceId: string, moduleId: string, authentication: ModuleAuthentication): Promise<CreateModuleResult>;
  getModuleTwin(deviceId: string, moduleId: string): Promise<ModuleTwin | undefined>;
  /** Patch desired properties; etag `*` forces. Returns the new twin, or undefined when the module is gone. */
  updateModuleDesired(deviceId: string, moduleId: string, desiredPatch: JsonObject, etag: string): Promise<ModuleTwin | undefined>;
  queryTwins(query: string, pageSize: number, continuationToken?: string): Promise<TwinQueryPage>;
}

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
  getLatest(deviceId: string): Promise<StoredLatest | undefined>;
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

export interface DeadLetterStore {
  /** Idempotent: keyed by (partitionId, sequenceNumber). Payload truncated to fit one entity. */
  record(letters: DeadLetter[]): Promise<void>;
}
