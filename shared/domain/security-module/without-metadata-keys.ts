import type { JsonObject } from '../types';

/** The section's own keys without the `$`-prefixed metadata ones (shallow: values are not copied). */
export function withoutMetadataKeys(section: JsonObject | undefined): JsonObject {
  const result: JsonObject = {};
  for (const [key, value] of Object.entries(section ?? {})) {
    if (!key.startsWith('$')) result[key] = value;
  }
  return result;
}
