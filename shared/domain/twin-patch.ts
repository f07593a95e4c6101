/**
 * Helpers for IoT Hub twin sections and twin-change patches. Pure: no clock, no SDK types.
 */
import type { JsonObject } from './types';

/** True for a plain JSON object (not null, not an array): the only shape a twin section or nested property can take. */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Copy of a twin section without IoT Hub bookkeeping (`$metadata`, `$version`, `$lastUpdatedVersion`, …) at any
 * depth. Twin property names may not contain `$`, so every `$`-prefixed key is service metadata and dropping all of
 * them cannot lose user data; `null` values are kept because in a patch they mean "delete". Anything that is not an
 * object yields `{}` so a missing section reads as empty.
 */
export function stripMetadata(section: unknown): JsonObject {
  if (!isJsonObject(section)) return {};
  const result: JsonObject = {};
  for (const [key, value] of Object.entries(section)) {
    if (key.startsWith('$')) continue;
    result[key] = isJsonObject(value) ? stripMetadata(value) : cloneJson(value);
  }
  return result;
}

/**
 * Applies a twin patch to a section the way IoT Hub does (JSON merge patch, RFC 7396): objects merge key by key,
 * `null` deletes, arrays and scalars replace. Neither input is modified, so a stored posture can be merged
 * speculatively and discarded on an optimistic-concurrency conflict. Strip metadata from the patch first: this
 * function treats `$` keys like any other.
 */
export function mergePatch(base: JsonObject, patch: JsonObject): JsonObject {
  const result: JsonObject = cloneJson(base);
  for (const [key, patchValue] of Object.entries(patch)) {
    if (patchValue === null) {
      delete result[key];
    } else if (isJsonObject(patchValue)) {
      const baseValue = result[key];
      // A patch object onto a scalar starts from empty, so nulls inside it still mean "absent".
      result[key] = mergePatch(isJsonObject(baseValue) ? baseValue : {}, patchValue);
    } else {
      result[key] = cloneJson(patchValue);
    }
  }
  return result;
}

/** The section's `$version`, or undefined when absent or not a non-negative integer (a malformed body must not order anything). */
export function sectionVersion(section: unknown): number | undefined {
  if (!isJsonObject(section)) return undefined;
  const version = section['$version'];
  return typeof version === 'number' && Number.isInteger(version) && version >= 0 ? version : undefined;
}

/** The section's `$metadata.$lastUpdated` (ISO text as IoT Hub sent it), or undefined. */
export function sectionLastUpdated(section: unknown): string | undefined {
  if (!isJsonObject(section)) return undefined;
  const metadata = section['$metadata'];
  if (!isJsonObject(metadata)) return undefined;
  const lastUpdated = metadata['$lastUpdated'];
  return typeof lastUpdated === 'string' ? lastUpdated : undefined;
}

/** Deep copy of a JSON value (objects and arrays rebuilt, primitives shared). */
export function cloneJson<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item: unknown) => cloneJson(item)) as T;
  if (isJsonObject(value)) {
    const copy: JsonObject = {};
    for (const [key, inner] of Object.entries(value)) copy[key] = cloneJson(inner);
    return copy as T;
  }
  return value;
}
