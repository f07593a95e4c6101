/**
 * What a configuration's content writes: `deviceContent` / `moduleContent` map paths under `properties.desired` to
 * values (`"properties.desired.firmware": {…}` writes desired.firmware; `"properties.desired"` the section's
 * top-level keys), per "Automatic IoT device and module management" (learn.microsoft.com/azure/iot-hub/
 * iot-hub-automatic-device-management-cli: "The content includes a path to the section of desired properties to be
 * changed"). Pure: the emulator applies it, TwinGuard compares module twins against it.
 */
import { isJsonObject } from '../twin-patch';
import type { JsonObject } from '../types';

export const DESIRED_PREFIX = 'properties.desired';

/** A path that is not `properties.desired` or below it. */
export class ContentPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContentPathError';
  }
}

/**
 * The desired-properties patch a content map writes, paths expanded into nested objects.
 * @throws ContentPathError for a path outside `properties.desired` or an empty segment.
 */
export function desiredPatchOf(content: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const [path, value] of Object.entries(content)) {
    const segments = desiredSegments(path);
    if (segments.length === 0) {
      if (!isJsonObject(value)) throw new ContentPathError(`'${path}' must hold a JSON object`);
      for (const [key, inner] of Object.entries(value)) mergeInto(patch, [key], inner);
    } else {
      mergeInto(patch, segments, value);
    }
  }
  return patch;
}

/** The segments below `properties.desired` of a content path. @throws ContentPathError */
export function desiredSegments(path: string): string[] {
  if (path === DESIRED_PREFIX) return [];
  if (!path.startsWith(`${DESIRED_PREFIX}.`))
    throw new ContentPathError(`content path '${path}' must be '${DESIRED_PREFIX}' or start with '${DESIRED_PREFIX}.'`);
  const segments = path.slice(DESIRED_PREFIX.length + 1).split('.');
  if (segments.some((segment) => segment.length === 0)) throw new ContentPathError(`content path '${path}' has an empty segment`);
  return segments;
}

/**
 * The patch that takes a content map's writes back out (`null` at each path it wrote; for `properties.desired`
 * itself, at each top-level key of its value), for a twin the configuration stops applying to.
 */
export function removalPatchOf(content: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const [path, value] of Object.entries(content)) {
    const segments = desiredSegments(path);
    if (segments.length === 0) {
      if (isJsonObject(value)) for (const key of Object.keys(value)) mergeInto(patch, [key], null);
    } else {
      mergeInto(patch, segments, null);
    }
  }
  return patch;
}

function mergeInto(target: JsonObject, segments: readonly string[], value: unknown): void {
  let node = target;
  for (const segment of segments.slice(0, -1)) {
    const next = Object.prototype.hasOwnProperty.call(node, segment) ? node[segment] : undefined;
    if (isJsonObject(next)) node = next;
    else {
      const created: JsonObject = {};
      Object.defineProperty(node, segment, { value: created, enumerable: true, writable: true, configurable: true });
      node = created;
    }
  }
  const last = segments[segments.length - 1] as string;
  const existing = Object.prototype.hasOwnProperty.call(node, last) ? node[last] : undefined;
  const merged = isJsonObject(existing) && isJsonObject(value) ? { ...existing, ...value } : value;
  Object.defineProperty(node, last, { value: merged, enumerable: true, writable: true, configurable: true });
}
