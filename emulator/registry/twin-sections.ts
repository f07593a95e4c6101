/**
 * Twin sections (tags, desired, reported) with their `$metadata` and `$version`. Copy-on-write: a change
 * builds new objects and never mutates old ones, so a HubChange body handed to a listener stays valid forever.
 */
import { isJsonObject } from '../../shared/domain/twin-patch';
import type { JsonObject } from '../../shared/domain/types';
import { NEVER } from './hub-timestamp';
import type { StoredTwin } from './registry-entry';
import { assertSize, MAX_PROPERTIES_BYTES } from './twin-validation';

export interface MergeResult {
  values: JsonObject;
  meta: JsonObject;
  /** Metadata entries for just the patched keys, for reported-change notifications. */
  patchMeta: JsonObject;
}

function leafMeta(value: unknown, stamp: JsonObject): JsonObject {
  if (!isJsonObject(value)) return stamp;
  const node: JsonObject = { ...stamp };
  for (const [key, child] of Object.entries(value)) if (child !== null) node[key] = leafMeta(child, stamp);
  return node;
}

/** `value` with every null-valued property removed, at every depth. */
export function withoutNulls(value: unknown): unknown {
  if (!isJsonObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, child] of Object.entries(value)) if (child !== null) out[key] = withoutNulls(child);
  return out;
}

/** Merges `patch` into `values` (null deletes), returning new objects; inputs are never mutated. */
export function mergeSection(values: JsonObject, meta: JsonObject, patch: JsonObject, stamp: JsonObject): MergeResult {
  const nextValues: JsonObject = { ...values };
  const nextMeta: JsonObject = { ...meta, ...stamp };
  const patchMeta: JsonObject = { ...stamp };
  for (const [key, patchValue] of Object.entries(patch)) {
    if (patchValue === null) {
      delete nextValues[key];
      delete nextMeta[key];
      continue;
    }
    const existing = values[key];
    const existingMeta = meta[key];
    if (isJsonObject(patchValue) && isJsonObject(existing)) {
      const nested = mergeSection(existing, isJsonObject(existingMeta) ? existingMeta : { ...stamp }, patchValue, stamp);
      nextValues[key] = nested.values;
      nextMeta[key] = nested.meta;
      patchMeta[key] = nested.patchMeta;
    } else {
      nextValues[key] = withoutNulls(patchValue);
      nextMeta[key] = leafMeta(patchValue, stamp);
      patchMeta[key] = nextMeta[key];
    }
  }
  return { values: nextValues, meta: nextMeta, patchMeta };
}

/** A properties section split into its values, its `$metadata` and its `$version`. */
export function splitSection(section: JsonObject): { values: JsonObject; meta: JsonObject; version: number } {
  const { $metadata, $version, ...values } = section;
  return {
    values,
    meta: isJsonObject($metadata) ? $metadata : { $lastUpdated: NEVER },
    version: typeof $version === 'number' ? $version : 1,
  };
}

/** The properties section of a new twin. */
export function emptySection(desired: boolean): JsonObject {
  return { $metadata: desired ? { $lastUpdated: NEVER } : { $lastUpdated: NEVER }, $version: 1 };
}

/**
 * Merges (or with `replace`, sets) the desired properties of `twin` at `time`, bumping the section's
 * `$version`. @throws HubError(400) when the section grows over IoT Hub's size limit; `twin` is then unchanged.
 */
export function applyDesired(twin: StoredTwin, desired: JsonObject, time: string, replace: boolean): void {
  const current = splitSection(twin.properties.desired);
  const sectionVersion = current.version + 1;
  const stamp = { $lastUpdated: time, $lastUpdatedVersion: sectionVersion };
  const merged = replace
    ? mergeSection({}, { $lastUpdated: NEVER }, desired, stamp)
    : mergeSection(current.values, current.meta, desired, stamp);
  const section = { ...merged.values, $metadata: merged.meta, $version: sectionVersion };
  assertSize(section, MAX_PROPERTIES_BYTES, 'properties.desired');
  twin.properties = { desired: section, reported: twin.properties.reported };
}
