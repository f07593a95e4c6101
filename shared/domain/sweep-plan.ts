/**
 * How a fleet sweep is cut into resumable work, pure.
 *
 * IoT Hub neither orders query results nor lets a query join devices with their modules, and a single
 * invocation may not finish a 500k-device hub. So the fleet is cut into **buckets**: contiguous deviceId ranges
 * (`deviceId >= 'lo' AND deviceId < 'hi'`, ordinal string order) sized from a uniform sample of device ids taken
 * once when the sweep is planned. A bucket is processed as one unit: one projected `devices` query and one projected
 * `devices.modules` query over the same range (one page each while the bucket stays under the page size), joined
 * in memory by deviceId — so memory is bounded by the bucket, never the fleet. Consecutive buckets form a
 * **shard**, one queue message, whose cursor is the next bucket index.
 *
 * Query cost: planning reads `SELECT deviceId FROM devices` once (fleet / page size queries, plus two COUNT
 * queries), keeping a hash-decided sample of the ids page by page (samplePage), so a planning step can stop after any
 * page and the next one continues from the persisted continuation token; processing costs 2 queries per bucket (more only for a bucket that outgrew a page). With 2,000-device
 * buckets and 5,000-row pages that is ≈ 1.2 queries per 1,000 devices.
 */
import type { JsonObject } from './types';
import { toAuthenticationType } from './authentication-type';
import type { SweepDevice, SweepModule } from './compliance-rules';
import { isJsonObject } from './twin-patch';

/** Page size of the planning walk: the widest page the service allows (ids only), so the fleet costs fleet/10,000 queries. */
export const SAMPLE_PAGE_SIZE = 10_000;

const TWO_POW_32 = 2 ** 32;

/**
 * The hash threshold (out of 2^32) that keeps about `sampleSize` of `deviceCount` ids; every id (2^32) when the fleet
 * is no larger than the sample, so a small fleet is planned from all its ids.
 */
export function sampleThreshold(sampleSize: number, deviceCount: number): number {
  if (deviceCount <= sampleSize) return TWO_POW_32;
  return Math.floor((sampleSize / deviceCount) * TWO_POW_32);
}

/** A well-mixed 32-bit hash of an id under a seed: FNV-1a, then murmur3's finaliser (FNV alone mixes short similar ids poorly). */
export function sampleHash(id: string, seed: number): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * The ids of one page of the planning walk that belong to the sample. Whether an id is sampled depends on the id
 * and the seed alone (a Bernoulli sample by hash), so the sample needs no state across pages: a page re-read after
 * a crash samples exactly alike, pages may come in any order, and a planning step can stop after any page.
 */
export function samplePage(ids: readonly string[], seed: number, threshold: number): string[] {
  if (threshold >= TWO_POW_32) return [...ids];
  return ids.filter((id) => sampleHash(id, seed) < threshold);
}

export interface WalkProgress {
  pages: number;
  devicesSeen: number;
  continuationToken?: string;
  done: boolean;
}

/** The walk's progress once one more page (of `rows` ids, followed by `continuationToken`) is committed. */
export function advanceWalk<P extends WalkProgress>(progress: P, rows: number, continuationToken: string | undefined): P {
  const next: P = {
    ...progress,
    pages: progress.pages + 1,
    devicesSeen: progress.devicesSeen + rows,
    done: continuationToken === undefined,
  };
  if (continuationToken === undefined) delete next.continuationToken;
  else next.continuationToken = continuationToken;
  return next;
}

/** Ordinal (code unit) comparison: the order IoT Hub's string comparison and Table keys use for ASCII ids. */
export function compareOrdinal(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A stable 32-bit seed from a sweep id (FNV-1a), so a sweep samples alike however often its planning resumes. */
export function seedFrom(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/**
 * Split points for about `fleetSize / bucketDevices` buckets from a sorted sample: bucket i is
 * [split[i-1], split[i]) with open ends, so every id — including devices created after planning — is in exactly
 * one bucket. Duplicates are dropped (a split point equal to its neighbour would make an empty bucket).
 */
export function splitPoints(sortedSample: readonly string[], fleetSize: number, bucketDevices: number): string[] {
  const buckets = Math.max(1, Math.ceil(fleetSize / bucketDevices));
  if (buckets === 1 || sortedSample.length === 0) return [];
  const points: string[] = [];
  for (let i = 1; i < buckets; i++) {
    const point = sortedSample[Math.min(sortedSample.length - 1, Math.floor((i * sortedSample.length) / buckets))] as string;
    if (point !== points[points.length - 1] && point !== sortedSample[0]) points.push(point);
  }
  return points;
}

export interface BucketRange {
  /** Inclusive lower bound; undefined for the first bucket. */
  from?: string;
  /** Exclusive upper bound; undefined for the last bucket. */
  to?: string;
}

export function bucketCount(splits: readonly string[]): number {
  return splits.length + 1;
}

export function bucketRange(splits: readonly string[], index: number): BucketRange {
  const range: BucketRange = {};
  if (index > 0) range.from = splits[index - 1];
  if (index < splits.length) range.to = splits[index];
  return range;
}

/** Contiguous bucket ranges [start, end) per shard; never more shards than buckets. */
export function shardBuckets(buckets: number, shards: number): Array<{ start: number; end: number }> {
  const count = Math.max(1, Math.min(shards, buckets));
  return Array.from({ length: count }, (_, shard) => ({
    start: Math.floor((shard * buckets) / count),
    end: Math.floor(((shard + 1) * buckets) / count),
  }));
}

/** A string literal of the query language: single quotes, backslash escapes (`'` and `\` are legal in ids only as `'`). */
export function queryString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function rangeCondition(range: BucketRange): string[] {
  const parts: string[] = [];
  if (range.from !== undefined) parts.push(`deviceId >= ${queryString(range.from)}`);
  if (range.to !== undefined) parts.push(`deviceId < ${queryString(range.to)}`);
  return parts;
}

/** Device ids only, for sampling when the sweep is planned. */
export const SAMPLE_QUERY = 'SELECT deviceId FROM devices';
export const DEVICE_COUNT_QUERY = 'SELECT COUNT() AS n FROM devices';

export function moduleCountQuery(moduleId: string): string {
  return `SELECT COUNT() AS n FROM devices.modules WHERE moduleId = ${queryString(moduleId)}`;
}

/**
 * The projected devices query of one bucket. `withProperties` adds the device twin's properties, needed only when
 * the target condition or a suppression selector reads them.
 */
export function devicesQuery(range: BucketRange, withProperties: boolean): string {
  const where = rangeCondition(range);
  const fields = `deviceId, status, capabilities, tags, authenticationType${withProperties ? ', properties' : ''}`;
  return `SELECT ${fields} FROM devices${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`}`;
}

/**
 * The projected security-module query of one bucket. Sections are aliased (`AS desired`) so the row shape does not
 * depend on how the service names projected paths.
 */
export function modulesQuery(moduleId: string, range: BucketRange): string {
  const where = [`moduleId = ${queryString(moduleId)}`, ...rangeCondition(range)];
  return (
    'SELECT deviceId, moduleId, status, connectionState, lastActivityTime, authenticationType, tags, ' +
    `properties.desired AS desired, properties.reported AS reported FROM devices.modules WHERE ${where.join(' AND ')}`
  );
}

const authTypeOf = toAuthenticationType;

function section(row: JsonObject, name: 'desired' | 'reported'): JsonObject {
  const direct = row[name];
  if (isJsonObject(direct)) return direct;
  // A service that names projected paths in full returns { properties: { desired: … } }.
  const properties = row['properties'];
  const nested = isJsonObject(properties) ? properties[name] : undefined;
  return isJsonObject(nested) ? nested : {};
}

/** A devices-query row as a SweepDevice; undefined for a row without a deviceId. */
export function toSweepDevice(row: JsonObject): SweepDevice | undefined {
  const deviceId = row['deviceId'];
  if (typeof deviceId !== 'string') return undefined;
  const capabilities = row['capabilities'];
  const device: SweepDevice = {
    deviceId,
    status: row['status'] === 'disabled' ? 'disabled' : 'enabled',
    iotEdge: isJsonObject(capabilities) && capabilities['iotEdge'] === true,
    tags: isJsonObject(row['tags']) ? row['tags'] : {},
    twin: row,
  };
  const authType = authTypeOf(row['authenticationType']);
  if (authType) device.authType = authType;
  return device;
}

/** A modules-query row as a SweepModule; undefined for a row without ids. */
export function toSweepModule(row: JsonObject): SweepModule | undefined {
  const deviceId = row['deviceId'];
  const moduleId = row['moduleId'];
  if (typeof deviceId !== 'string' || typeof moduleId !== 'string') return undefined;
  const module: SweepModule = { deviceId, moduleId, desired: section(row, 'desired'), reported: section(row, 'reported') };
  if (typeof row['status'] === 'string') module.status = row['status'];
  if (typeof row['connectionState'] === 'string') module.connectionState = row['connectionState'];
  if (typeof row['lastActivityTime'] === 'string') module.lastActivityTime = row['lastActivityTime'];
  if (isJsonObject(row['tags'])) module.tags = row['tags'];
  const authType = authTypeOf(row['authenticationType']);
  if (authType) module.authType = authType;
  return module;
}

/** Whether a condition's text reads the device twin's `properties` (so the devices query must project them). */
export function conditionReadsProperties(text: string | undefined): boolean {
  return text !== undefined && /\bproperties\b/.test(text);
}
