/** What IoT Hub accepts in a twin write: property names, nesting depth, section sizes and the patch's shape. */
import { isJsonObject } from '../../shared/domain/twin-patch';
import type { JsonObject } from '../../shared/domain/types';
import { HubError } from './hub-error';

export const MAX_TAGS_BYTES = 8 * 1024;
export const MAX_PROPERTIES_BYTES = 32 * 1024;
const MAX_DEPTH = 10;

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

/** @throws HubError(400 ArgumentInvalid) for an illegal property name or nesting deeper than IoT Hub allows. */
export function validateKeys(value: unknown, section: string, depth: number): void {
  if (!isJsonObject(value)) return;
  if (depth > MAX_DEPTH) throw new HubError(400, 'ArgumentInvalid', `${section} is nested deeper than ${MAX_DEPTH} levels`);
  for (const [key, child] of Object.entries(value)) {
    if (key.length === 0 || /[.$ ]/.test(key) || hasControlCharacter(key)) {
      throw new HubError(
        400,
        'ArgumentInvalid',
        `Property name '${key}' in ${section} is invalid: names cannot be empty or contain '.', '$', spaces or control characters`,
      );
    }
    validateKeys(child, section, depth + 1);
  }
}

/** @throws HubError(400 ArgumentInvalid) when `section` serializes to more than `limit` bytes. */
export function assertSize(section: JsonObject, limit: number, name: string): void {
  const size = Buffer.byteLength(JSON.stringify(section), 'utf8');
  if (size > limit) throw new HubError(400, 'ArgumentInvalid', `${name} is ${size} bytes, over the ${limit}-byte limit`);
}

/**
 * Reads a service-side twin patch or replacement: `tags` and `properties.desired` (without `$metadata` and
 * `$version`), names validated. @throws HubError(400 ArgumentInvalid) for anything else, reported included.
 */
export function readServicePatch(patch: unknown): { tags?: JsonObject; desired?: JsonObject } {
  if (!isJsonObject(patch)) throw new HubError(400, 'ArgumentInvalid', 'The twin patch must be a JSON object');
  const { tags, properties } = patch;
  if (tags !== undefined && tags !== null && !isJsonObject(tags)) throw new HubError(400, 'ArgumentInvalid', 'tags must be an object');
  let desired: JsonObject | undefined;
  if (properties !== undefined && properties !== null) {
    if (!isJsonObject(properties)) throw new HubError(400, 'ArgumentInvalid', 'properties must be an object');
    if (properties.reported !== undefined)
      throw new HubError(400, 'ArgumentInvalid', 'Reported properties cannot be updated by the service');
    if (properties.desired !== undefined && properties.desired !== null) {
      if (!isJsonObject(properties.desired)) throw new HubError(400, 'ArgumentInvalid', 'properties.desired must be an object');
      const { $metadata: _m, $version: _v, ...rest } = properties.desired;
      desired = rest;
    }
  }
  const cleanTags = isJsonObject(tags) ? tags : undefined;
  if (cleanTags) validateKeys(cleanTags, 'tags', 1);
  if (desired) validateKeys(desired, 'properties.desired', 1);
  return { tags: cleanTags, desired };
}
