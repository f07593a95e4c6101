/** Reading the legacy agent's configuration object, under either key spelling, and its `{"value": …}` wrapping. */
import { isJsonObject } from '../twin-patch';
import type { JsonObject } from '../types';
import { LEGACY_CONFIG_KEYS, type LegacyConfigKey } from './module-ids';
import { withoutMetadataKeys } from './without-metadata-keys';

export function isLegacyConfigKey(key: string): key is LegacyConfigKey {
  return (LEGACY_CONFIG_KEYS as readonly string[]).includes(key);
}

export function legacyKeysIn(section: JsonObject): LegacyConfigKey[] {
  return LEGACY_CONFIG_KEYS.filter((key) => key in section);
}

/** The legacy configuration object in a section, preferring `preferredKey` when both spellings are present. */
export function legacyConfigurationIn(
  section: JsonObject | undefined,
  preferredKey?: LegacyConfigKey,
): { key: LegacyConfigKey; settings: JsonObject } | undefined {
  if (section === undefined) return undefined;
  const keys = legacyKeysIn(section).filter((key) => isJsonObject(section[key]));
  const key = keys.find((candidate) => candidate === preferredKey) ?? keys[0];
  return key === undefined ? undefined : { key, settings: withoutMetadataKeys(section[key] as JsonObject) };
}

export function isWrappedValue(value: JsonObject): boolean {
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'value';
}

export function unwrapLegacyValue(value: unknown): unknown {
  return isJsonObject(value) && isWrappedValue(value) ? value['value'] : value;
}
