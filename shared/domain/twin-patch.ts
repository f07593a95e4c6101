/**
 * Helpers for IoT Hub twin sections and twin-change patches. Pure: no clock, no SDK types.
 */
import type { JsonObject } from './types';

/** True for a plain JSON object (not null, not an array): the only shape a twin section or nested property can take. */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Sets `key` as an own data property. Twin property names are user data, and IoT Hub accepts `__proto__`: a plain
 * `target[key] = value` would call the `__proto__` setter (swapping the object's prototype, or nothing for a
 * scalar) instead of storing the property, so it would vanish from posture and history. `constructor` and
 * `prototype` are ordinary keys on a plain object and are assigned directly (the fast path for every other key).
 */
export function setOwn(target: JsonObject, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** The own property `key` of `source`, never an inherited one (`constructor`, `__proto__`, `toString` of Object.prototype). */
export function getOwn(source: JsonObject, key: string): unknown {
  return Object.hasOwn(source, key) ? source[key] : undefined;
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
    setOwn(result, key, isJsonObject(value) ? stripMetadata(value) : cloneJson(value));
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
      const baseValue = getOwn(result, key);
      // A patch object onto a scalar starts from empty, so nulls inside it still mean "absent".
      setOwn(result, key, mergePatch(isJsonObject(baseValue) ? baseValue : {}, patchValue));
    } else {
      setOwn(result, key, cloneJson(patchValue));
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
    for (const [key, inner] of Object.entries(value)) setOwn(copy, key, cloneJson(inner));
    return copy as T;
  }
  return value;
}
