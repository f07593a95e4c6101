import { cloneJson, isJsonObject } from '../twin-patch';
import type { JsonObject, SecurityAgentSchema } from '../types';
import { legacyConfigurationIn, unwrapLegacyValue } from './legacy-configuration';
import { withoutMetadataKeys } from './without-metadata-keys';

/**
 * Baseline keys the desired section does not apply, sorted (legacy: setting names inside the configuration
 * object, read under either key spelling). Unlike drift detection this is strict — after unwrapping legacy
 * `{value}` — because the baseline is written by us, so anything but the exact value means it was not applied or
 * was overwritten. A `null` baseline value is applied when the key is absent.
 */
export function baselineDiff(desired: JsonObject | undefined, baseline: JsonObject, schema: SecurityAgentSchema): string[] {
  const missing: string[] = [];
  if (schema === 'legacy') {
    const baselineConfiguration = legacyConfigurationIn(baseline);
    if (baselineConfiguration === undefined) return [];
    const desiredSettings = legacyConfigurationIn(desired, baselineConfiguration.key)?.settings ?? {};
    for (const [setting, value] of Object.entries(baselineConfiguration.settings)) {
      if (!appliesValue(desiredSettings[setting], value, unwrapLegacyValue)) missing.push(setting);
    }
  } else {
    const desiredSettings = desired ?? {};
    for (const [key, value] of Object.entries(withoutMetadataKeys(baseline))) {
      if (!appliesValue(desiredSettings[key], value, (inner) => inner)) missing.push(key);
    }
  }
  return missing.sort();
}

/**
 * The desired-properties patch that applies a validated baseline to a module twin. Micro agent: the flat settings.
 * Legacy: the configuration object under the spelling the baseline used, so a fleet stays on one spelling.
 * Desired patches merge, so settings outside the baseline are left as they are.
 */
export function baselineDesiredPatch(baseline: JsonObject, schema: SecurityAgentSchema): JsonObject {
  if (schema === 'legacy') {
    const configuration = legacyConfigurationIn(baseline);
    return configuration === undefined ? {} : { [configuration.key]: cloneJson(configuration.settings) };
  }
  return cloneJson(withoutMetadataKeys(baseline));
}

function appliesValue(desiredValue: unknown, baselineValue: unknown, unwrap: (value: unknown) => unknown): boolean {
  if (baselineValue === null) return desiredValue === undefined || desiredValue === null;
  if (desiredValue === undefined) return false;
  return strictlyEqual(unwrap(desiredValue), unwrap(baselineValue));
}

function strictlyEqual(left: unknown, right: unknown): boolean {
  if (isJsonObject(left) && isJsonObject(right)) {
    const leftKeys = Object.keys(left);
    return leftKeys.length === Object.keys(right).length && leftKeys.every((key) => key in right && strictlyEqual(left[key], right[key]));
  }
  if (Array.isArray(left) && Array.isArray(right)) {
    return left.length === right.length && left.every((item, index) => strictlyEqual(item, right[index]));
  }
  return left === right;
}
