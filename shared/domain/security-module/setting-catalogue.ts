/** The settings each agent schema accepts, with the rule each value must meet. */

/** Checks one setting value; returns why it is wrong, or undefined when it is acceptable. */
export type ValueRule = (value: unknown) => string | undefined;

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
    const caseMatch =
      typeof value === 'string' ? allowed.find((option) => String(option).toLowerCase() === value.toLowerCase()) : undefined;
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

export const MICRO_AGENT_RULES = buildMicroAgentRules();
export const LEGACY_RULES = buildLegacyRules();

/** How a value is named in a problem: "null", "an array", "an object", "a number"… */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}
