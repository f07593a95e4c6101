/** Combining a removal patch with the next configuration's content into the one twin update that switches them. */
import { isJsonObject } from '../../shared/domain/twin-patch';
import type { JsonObject } from '../../shared/domain/types';

/**
 * Deep merge of desired patches, `overlay` winning. Where `base` removes a path (null) that `overlay` writes an
 * object to, the keys the twin holds there and `overlay` does not write are removed too, so one merge patch both
 * takes the old settings out and puts the new ones in.
 */
export function overlayPatch(base: JsonObject, overlay: JsonObject, current: unknown): JsonObject {
  const out: JsonObject = { ...base };
  const held = isJsonObject(current) ? current : {};
  for (const [key, value] of Object.entries(overlay)) {
    const under = out[key];
    if (isJsonObject(under) && isJsonObject(value)) out[key] = overlayPatch(under, value, held[key]);
    else if (under === null && isJsonObject(value) && isJsonObject(held[key])) out[key] = replacing(held[key], value);
    else out[key] = value;
  }
  return out;
}

/** The patch that turns `current` into exactly `next`. */
function replacing(current: JsonObject, next: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(current)) if (!key.startsWith('$') && !(key in next)) out[key] = null;
  for (const [key, value] of Object.entries(next)) {
    const held = current[key];
    out[key] = isJsonObject(held) && isJsonObject(value) ? replacing(held, value) : value;
  }
  return out;
}
