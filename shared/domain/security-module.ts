/**
 * Defender for IoT security module knowledge: module names, both agent configuration schemas, baseline
 * validation and desired-vs-reported comparison. Pure: no clock, no environment, no SDK types.
 */
import { cloneJson, isJsonObject } from './twin-patch';
import type { ConfigurationState, JsonObject, SecurityAgentSchema } from './types';

/** Module identity of the Defender for IoT micro agent. Module ids are case-sensitive, so this exact spelling. */
export const MICRO_AGENT_MODULE_ID = 'DefenderIotMicroAgent';

/** Module identity of the legacy (C / C# / Edge) security agent. */
export const LEGACY_MODULE_ID = 'azureiotsecurity';

/**
 * The two spellings of the legacy agent's configuration object key in `desired`: the GitHub default twin uses the
 * first (flat values), the docs the second (values wrapped as `{"value": …}`). Both are in use, so both are read.
 */
export const LEGACY_CONFIG_KEYS = ['azureiot*com^securityAgentConfiguration^1*0*0', 'ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration'] as const;

export type LegacyConfigKey = (typeof LEGACY_CONFIG_KEYS)[number];

const MICRO_AGENT_STATE_KEY = 'latest_state';
const MICRO_AGENT_INVALID_FIELDS_KEY = 'latest_invalid_fields';

/**
 * Which configuration schema a security module twin is read with. The two well-known module ids decide by name;
 * a custom module id is legacy only when its desired section already holds a legacy configuration object, because
 * that object is the one thing that tells the schemas apart.
 */
export function agentSchemaFor(moduleId: string, desired?: JsonObject): SecurityAgentSchema {
  if (moduleId === LEGACY_MODULE_ID) return 'legacy';
  if (moduleId === MICRO_AGENT_MODULE_ID) return 'microAgent';
  return desired !== undefined && legacyKeysIn(desired).length > 0 ? 'legacy' : 'microAgent';
}

// ---------------------------------------------------------------------------------------------------------------
// Setting catalogues

/** Checks one setting value; returns why it is wrong, or undefined when it is acceptable. */
type ValueRule = (value: unknown) => string | undefined;

const MICRO_AGENT_COLLECTORS = [
  'Baseline',
  'SystemInformation',
  'SBoM',
  'Heartbeat',
  'Login',
  'NetworkActivity',
  'Process',
  'LogCollector',
  'FileSystem',
  'Peripheral',
  'Statistics',
] as const;

const MESSAGE_FREQUENCIES = ['Low', 'Medium', 'High'] as const;
const LEGACY_EVENT_PRIORITIES = ['High', 'Low', 'Off'] as const;

const LEGACY_EVENT_NAMES = [
  'Diagnostic',
  'ConfigurationError',
  'DroppedEventsStatistics',
  'MessageStatistics',
  'ConnectedHardware',
  'ListeningPorts',
  'ProcessCreate',
  'ProcessTerminate',
  'SystemInformation',
  'LocalUsers',
  'Login',
  'ConnectionCreate',
  'FirewallConfiguration',
  'OSBaseline',
] as const;

const LEGACY_AGGREGATED_EVENTS = ['ProcessCreate', 'ConnectionCreate', 'ProcessTerminate'] as const;

const booleanRule: ValueRule = (value) => (typeof value === 'boolean' ? undefined : `must be true or false, not ${jsonTypeOf(value)}`);

const stringRule: ValueRule = (value) => (typeof value === 'string' ? undefined : `must be a string, not ${jsonTypeOf(value)}`);

const nullableStringRule: ValueRule = (value) =>
  value === null || typeof value === 'string' ? undefined : `must be a comma-separated string or null, not ${jsonTypeOf(value)}`;

const nonEmptyStringRule: ValueRule = (value) => stringRule(value) ?? ((value as string).trim() === '' ? 'must not be empty' : undefined);

function integerRule(minimum: number, maximum?: number): ValueRule {
  return (value) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) return `must be a whole number, not ${jsonTypeOf(value)}`;
    if (value < minimum || (maximum !== undefined && value > maximum)) {
      return maximum === undefined ? `must be at least ${minimum}` : `must be between ${minimum} and ${maximum}`;
    }
    return undefined;
  };
}

function oneOfRule(allowed: readonly (string | number)[]): ValueRule {
  return (value) => {
    if (allowed.includes(value as string | number)) return undefined;
    const caseMatch = typeof value === 'string' ? allowed.find((option) => String(option).toLowerCase() === value.toLowerCase()) : undefined;
    const hint = caseMatch === undefined ? '' : ` (values are case-sensitive: ${String(caseMatch)})`;
    return `must be one of ${allowed.join(', ')}${hint}`;
  };
}

const positiveIntegerRule = integerRule(1);

const priorityIntervalsRule: ValueRule = (value) => {
  if (typeof value !== 'string') return `must be a string "<High>,<Medium>,<Low>" of minutes, not ${jsonTypeOf(value)}`;
  const parts = value.split(',').map((part) => part.trim());
  if (parts.length !== 3 || parts.some((part) => !/^\d+$/.test(part) || Number(part) === 0)) {
    return 'must be three positive whole minutes "<High>,<Medium>,<Low>"';
  }
  const minutes = parts.map(Number);
  for (let index = 1; index < minutes.length; index += 1) {
    const previous = minutes[index - 1] as number;
    if ((minutes[index] as number) % previous !== 0) return 'each interval must be a multiple of the previous';
  }
  return undefined;
};

// ISO-8601 duration: at least one component, and a T only when a time component follows.
const ISO_DURATION = /^P(?=\d|T\d)(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$/;

const durationRule: ValueRule = (value) => {
  if (typeof value !== 'string') return `must be an ISO-8601 duration string such as PT7M, not ${jsonTypeOf(value)}`;
  return ISO_DURATION.test(value) ? undefined : 'must be an ISO-8601 duration such as PT7M';
};

function buildMicroAgentRules(): ReadonlyMap<string, ValueRule> {
  const rules = new Map<string, ValueRule>();
  for (const collector of MICRO_AGENT_COLLECTORS) {
    rules.set(`${collector}_Disabled`, booleanRule);
    rules.set(`${collector}_MessageFrequency`, oneOfRule(MESSAGE_FREQUENCIES));
  }
  rules.set('CollectorsCore_PriorityIntervals', priorityIntervalsRule);
  rules.set('Baseline_GroupsDisabled', nullableStringRule);
  rules.set('Baseline_ChecksDisabled', nullableStringRule);
  for (const field of ['HardwareVendor', 'HardwareModel', 'HardwareSerialNumber', 'FirmwareVendor', 'FirmwareVersion']) {
    rules.set(`SystemInformation_${field}`, stringRule);
  }
  rules.set('Login_UsePAM', booleanRule);
  rules.set('IothubModule_MessageTimeout', positiveIntegerRule);
  rules.set('NetworkActivity_Devices', nonEmptyStringRule);
  rules.set('NetworkActivity_CacheSize', positiveIntegerRule);
  rules.set('NetworkActivity_PacketBufferSize', positiveIntegerRule);
  rules.set('Process_PollingInterval', positiveIntegerRule);
  rules.set('Process_Mode', oneOfRule([1, 2, 3]));
  rules.set('Process_CacheSize', positiveIntegerRule);
  rules.set('FileSystem_Recursive', booleanRule);
  rules.set('FileSystem_Paths', nonEmptyStringRule);
  rules.set('FileSystem_CacheSize', positiveIntegerRule);
  rules.set('Peripheral_CacheSize', positiveIntegerRule);
  rules.set('Statistics_CacheSize', positiveIntegerRule);
  return rules;
}

function buildLegacyRules(): ReadonlyMap<string, ValueRule> {
  const rules = new Map<string, ValueRule>();
  rules.set('highPriorityMessageFrequency', durationRule);
  rules.set('lowPriorityMessageFrequency', durationRule);
  rules.set('snapshotFrequency', durationRule);
  rules.set('maxLocalCacheSizeInBytes', integerRule(8192));
  rules.set('maxMessageSizeInBytes', integerRule(8192, 262144));
  for (const event of LEGACY_EVENT_NAMES) rules.set(`eventPriority${event}`, oneOfRule(LEGACY_EVENT_PRIORITIES));
  for (const event of LEGACY_AGGREGATED_EVENTS) {
    rules.set(`aggregationEnabled${event}`, booleanRule);
    rules.set(`aggregationInterval${event}`, durationRule);
  }
  rules.set('baselineCustomChecksEnabled', booleanRule);
  rules.set('baselineCustomChecksFilePath', nonEmptyStringRule);
  rules.set('baselineCustomChecksFileHash', nonEmptyStringRule);
  return rules;
}

const MICRO_AGENT_RULES = buildMicroAgentRules();
const LEGACY_RULES = buildLegacyRules();

// ---------------------------------------------------------------------------------------------------------------
// Baseline validation

export type BaselineValidation = { ok: true; baseline: JsonObject; schema: SecurityAgentSchema } | { ok: false; problems: string[] };

/**
 * Validates the SECURITY_MODULE_BASELINE setting (its JSON text, or the already parsed value) for the configured
 * security module. Every problem is listed, one line each naming the key, because the baseline is written into
 * every device's twin: a typo or an out-of-range value would silently misconfigure or stop the whole fleet's agents
 * (the legacy agent refuses to start on a configuration that fails its schema). `{}` is valid: create the module,
 * set nothing.
 */
export function validateBaseline(value: unknown, moduleId: string): BaselineValidation {
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value) as unknown;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { ok: false, problems: [`SECURITY_MODULE_BASELINE is not valid JSON — ${reason}`] };
    }
  }
  if (!isJsonObject(parsed)) {
    return { ok: false, problems: [`SECURITY_MODULE_BASELINE must be a JSON object of desired properties, not ${jsonTypeOf(parsed)}`] };
  }

  const schema = agentSchemaFor(moduleId, parsed);
  const problems = schema === 'legacy' ? legacyBaselineProblems(parsed, moduleId) : microAgentBaselineProblems(parsed, moduleId);
  return problems.length === 0 ? { ok: true, baseline: parsed, schema } : { ok: false, problems };
}

function microAgentBaselineProblems(baseline: JsonObject, moduleId: string): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(baseline)) {
    if (isLegacyConfigKey(key)) {
      problems.push(`${key}: legacy agent configuration cannot configure ${moduleId}, a micro-agent module — use the micro agent's flat settings`);
      continue;
    }
    problems.push(...settingProblems(key, value, MICRO_AGENT_RULES, 'micro-agent setting'));
  }
  return problems;
}

function legacyBaselineProblems(baseline: JsonObject, moduleId: string): string[] {
  const problems: string[] = [];
  const presentKeys = legacyKeysIn(baseline);
  if (presentKeys.length > 1) {
    problems.push(`both legacy configuration keys are set (${LEGACY_CONFIG_KEYS.join(' and ')}) — use only one spelling`);
  }
  for (const [key, value] of Object.entries(baseline)) {
    if (isLegacyConfigKey(key)) {
      problems.push(...legacyConfigurationProblems(key, value));
    } else if (MICRO_AGENT_RULES.has(key)) {
      problems.push(`${key}: micro-agent setting cannot configure ${moduleId}, a legacy-agent module — put legacy settings under ${LEGACY_CONFIG_KEYS[0]}`);
    } else {
      problems.push(`${key}: unknown key — a legacy-agent baseline holds only ${LEGACY_CONFIG_KEYS.join(' or ')}`);
    }
  }
  return problems;
}

function legacyConfigurationProblems(configKey: string, configuration: unknown): string[] {
  if (!isJsonObject(configuration)) return [`${configKey}: must be an object of agent settings, not ${jsonTypeOf(configuration)}`];
  const problems: string[] = [];
  for (const [setting, raw] of Object.entries(configuration)) {
    if (isJsonObject(raw) && !isWrappedValue(raw)) {
      problems.push(`${setting}: ${display(raw)} — a wrapped setting holds exactly one key, "value"`);
      continue;
    }
    problems.push(...settingProblems(setting, unwrapLegacyValue(raw), LEGACY_RULES, 'legacy-agent setting'));
  }
  return problems;
}

function settingProblems(key: string, value: unknown, rules: ReadonlyMap<string, ValueRule>, kind: string): string[] {
  const rule = rules.get(key);
  if (rule === undefined) {
    const suggestion = closestKey(key, [...rules.keys()]);
    return [`${key}: unknown ${kind}${suggestion === undefined ? '' : ` — did you mean ${suggestion}?`}`];
  }
  const reason = rule(value);
  return reason === undefined ? [] : [`${key}: ${display(value)} — ${reason}`];
}

/** The known key a typo most likely meant: a case-insensitive edit distance of at most 2, and only when unambiguous. */
function closestKey(key: string, known: readonly string[]): string | undefined {
  const lowerKey = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  let tie = false;
  for (const candidate of known) {
    const distance = editDistance(lowerKey, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
      tie = false;
    } else if (distance === bestDistance) {
      tie = true;
    }
  }
  return bestDistance <= 2 && !tie ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previousRow = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previousRow[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((previousRow[j] as number) + 1, (row[j - 1] as number) + 1, substitution));
    }
    previousRow = row;
  }
  return previousRow[b.length] as number;
}

// ---------------------------------------------------------------------------------------------------------------
// Reported state and comparison

/**
 * The micro agent's own verdict on its last configuration: `latest_state` and `latest_invalid_fields`. The field
 * list is read as an array of strings or a comma-separated string, since the reported shape is not documented.
 */
export function readAgentState(reported: JsonObject | undefined): { agentState?: string; invalidFields: string[] } {
  const state = reported?.[MICRO_AGENT_STATE_KEY];
  const rawFields = reported?.[MICRO_AGENT_INVALID_FIELDS_KEY];
  const candidates: unknown[] = Array.isArray(rawFields) ? rawFields : typeof rawFields === 'string' ? rawFields.split(',') : [];
  const invalidFields = candidates.filter((field): field is string => typeof field === 'string').map((field) => field.trim()).filter((field) => field !== '');
  return typeof state === 'string' ? { agentState: state, invalidFields } : { invalidFields };
}

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

function compareMicroAgent(desired: JsonObject | undefined, reported: JsonObject | undefined): { state: ConfigurationState; driftedKeys: string[] } {
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

function compareLegacy(desired: JsonObject | undefined, reported: JsonObject | undefined): { state: ConfigurationState; driftedKeys: string[] } {
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

// ---------------------------------------------------------------------------------------------------------------
// Baseline application

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

// ---------------------------------------------------------------------------------------------------------------
// Shared helpers

function appliesValue(desiredValue: unknown, baselineValue: unknown, unwrap: (value: unknown) => unknown): boolean {
  if (baselineValue === null) return desiredValue === undefined || desiredValue === null;
  if (desiredValue === undefined) return false;
  return strictlyEqual(unwrap(desiredValue), unwrap(baselineValue));
}

function isLegacyConfigKey(key: string): key is LegacyConfigKey {
  return (LEGACY_CONFIG_KEYS as readonly string[]).includes(key);
}

function legacyKeysIn(section: JsonObject): LegacyConfigKey[] {
  return LEGACY_CONFIG_KEYS.filter((key) => key in section);
}

/** The legacy configuration object in a section, preferring `preferredKey` when both spellings are present. */
function legacyConfigurationIn(section: JsonObject | undefined, preferredKey?: LegacyConfigKey): { key: LegacyConfigKey; settings: JsonObject } | undefined {
  if (section === undefined) return undefined;
  const keys = legacyKeysIn(section).filter((key) => isJsonObject(section[key]));
  const key = keys.find((candidate) => candidate === preferredKey) ?? keys[0];
  return key === undefined ? undefined : { key, settings: withoutMetadataKeys(section[key] as JsonObject) };
}

function isWrappedValue(value: JsonObject): boolean {
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'value';
}

function unwrapLegacyValue(value: unknown): unknown {
  return isJsonObject(value) && isWrappedValue(value) ? value['value'] : value;
}

function withoutMetadataKeys(section: JsonObject | undefined): JsonObject {
  const result: JsonObject = {};
  for (const [key, value] of Object.entries(section ?? {})) {
    if (!key.startsWith('$')) result[key] = value;
  }
  return result;
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

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** Strings are shown as written (the baseline author typed them that way); everything else as JSON. */
function display(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
