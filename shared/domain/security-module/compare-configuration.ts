import { isJsonObject } from '../twin-patch';
import type { ConfigurationState, JsonObject, SecurityAgentSchema } from '../types';
import { legacyConfigurationIn, unwrapLegacyValue } from './legacy-configuration';
import { MICRO_AGENT_STATE_KEY, readAgentState } from './read-agent-state';
import { MICRO_AGENT_RULES } from './setting-catalogue';
import { withoutMetadataKeys } from './without-metadata-keys';

/**
 * Whether the agent reports the configuration that was asked of it. Values are compared leniently (boolean `true`
 * equals "true"/"True", 256 equals "256", comma lists compare item by item after trimming) because the agent
 * echoes values in its own formatting and a cosmetic difference is not drift. A micro agent reporting
 * `latest_state: failed` is drifted whatever it echoes, and its invalid fields count as drifted keys.
 * 'pending' means something is desired but the agent has reported no configuration yet; 'unknown' means neither
 * side has anything to compare.
 */
export function compareConfiguration(
  desired: JsonObject | undefined,
  reported: JsonObject | undefined,
  schema: SecurityAgentSchema,
): { state: ConfigurationState; driftedKeys: string[] } {
  return schema === 'legacy' ? compareLegacy(desired, reported) : compareMicroAgent(desired, reported);
}

function compareMicroAgent(
  desired: JsonObject | undefined,
  reported: JsonObject | undefined,
): { state: ConfigurationState; driftedKeys: string[] } {
  const desiredSettings = withoutMetadataKeys(desired);
  const reportedSettings = withoutMetadataKeys(reported);
  const desiredKeys = Object.keys(desiredSettings);
  const { agentState, invalidFields } = readAgentState(reported);
  const failed = agentState === 'failed';

  // Only a key the agent could echo counts as reported configuration: status keys or unrelated reported
  // properties must not make every desired key look drifted before the agent has answered.
  const reportsConfiguration = Object.keys(reportedSettings).some((key) => MICRO_AGENT_RULES.has(key) || key in desiredSettings);

  if (!reportsConfiguration && !failed) {
    return { state: desiredKeys.length === 0 ? 'unknown' : 'pending', driftedKeys: [] };
  }
  const drifted = new Set<string>(failed ? invalidFields : []);
  if (reportsConfiguration) {
    for (const key of desiredKeys) {
      if (!(key in reportedSettings) || !looselyEqual(desiredSettings[key], reportedSettings[key])) drifted.add(key);
    }
  }
  if (failed && drifted.size === 0) drifted.add(MICRO_AGENT_STATE_KEY);
  return verdict(drifted);
}

function compareLegacy(
  desired: JsonObject | undefined,
  reported: JsonObject | undefined,
): { state: ConfigurationState; driftedKeys: string[] } {
  const desiredConfiguration = legacyConfigurationIn(desired);
  const reportedConfiguration = legacyConfigurationIn(reported, desiredConfiguration?.key);
  const desiredSettings = Object.entries(desiredConfiguration?.settings ?? {});

  if (reportedConfiguration === undefined) {
    return { state: desiredSettings.length === 0 ? 'unknown' : 'pending', driftedKeys: [] };
  }
  const drifted = new Set<string>();
  for (const [setting, value] of desiredSettings) {
    const reportedValue = reportedConfiguration.settings[setting];
    if (reportedValue === undefined || !looselyEqual(unwrapLegacyValue(value), unwrapLegacyValue(reportedValue))) drifted.add(setting);
  }
  return verdict(drifted);
}

function verdict(drifted: Set<string>): { state: ConfigurationState; driftedKeys: string[] } {
  const driftedKeys = [...drifted].sort();
  return { state: driftedKeys.length === 0 ? 'inSync' : 'drifted', driftedKeys };
}

function looselyEqual(left: unknown, right: unknown): boolean {
  const normalisedLeft = normaliseScalar(left);
  const normalisedRight = normaliseScalar(right);
  if (isJsonObject(left) && isJsonObject(right)) {
    const leftKeys = Object.keys(withoutMetadataKeys(left));
    const rightKeys = Object.keys(withoutMetadataKeys(right));
    return leftKeys.length === rightKeys.length && leftKeys.every((key) => key in right && looselyEqual(left[key], right[key]));
  }
  if (Array.isArray(left) && Array.isArray(right)) {
    return left.length === right.length && left.every((item, index) => looselyEqual(item, right[index]));
  }
  return normalisedLeft !== undefined && normalisedLeft === normalisedRight;
}

/** A canonical text for scalars so that `true`/"True", `256`/"256" and "a, b"/"a,b" compare equal. */
function normaliseScalar(value: unknown): string | undefined {
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return Number.isFinite(value) ? `${value}` : undefined;
  if (value === null) return 'null';
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  const lower = trimmed.toLowerCase();
  if (lower === 'true' || lower === 'false') return lower;
  if (trimmed !== '' && Number.isFinite(Number(trimmed))) return `${Number(trimmed)}`;
  return trimmed
    .split(',')
    .map((item) => item.trim())
    .join(',');
}
