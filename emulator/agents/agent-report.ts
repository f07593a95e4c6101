/**
 * What a simulated Defender for IoT agent reports for a desired configuration: its effective defaults, the per-key
 * validation the micro agent applies, and the reported patch of each agent generation. Pure (no SDK, no clock), so
 * the MQTT agent (module-agent.ts) and the seeding share one definition of "what an agent reports".
 */
import { LEGACY_CONFIG_KEYS as LEGACY_CONFIGURATION_KEYS, LEGACY_MODULE_ID } from '../../shared/domain/security-module/module-ids';
import type { ReportingMode } from './agent-mode';

const MICRO_COLLECTORS_LOW = [
  'Baseline',
  'SystemInformation',
  'SBoM',
  'Heartbeat',
  'LogCollector',
  'FileSystem',
  'Peripheral',
  'Statistics',
];
const MICRO_COLLECTORS_MEDIUM = ['Login', 'NetworkActivity', 'Process'];

/** The micro agent's effective defaults (Defender for IoT micro-agent configuration reference). */
export const MICRO_AGENT_DEFAULTS: Readonly<Record<string, unknown>> = Object.freeze({
  CollectorsCore_PriorityIntervals: '30,120,1440',
  IothubModule_MessageTimeout: 2880,
  Login_UsePAM: false,
  NetworkActivity_Devices: 'eth0',
  Process_Mode: 1,
  Process_PollingInterval: 100000,
  ...Object.fromEntries(
    MICRO_COLLECTORS_LOW.flatMap((c): [string, unknown][] => [
      [`${c}_Disabled`, false],
      [`${c}_MessageFrequency`, 'Low'],
    ]),
  ),
  ...Object.fromEntries(
    MICRO_COLLECTORS_MEDIUM.flatMap((c): [string, unknown][] => [
      [`${c}_Disabled`, false],
      [`${c}_MessageFrequency`, 'Medium'],
    ]),
  ),
});

/** The legacy agent's effective defaults (Azure-IoT-Security schema). */
export const LEGACY_AGENT_DEFAULTS: Readonly<Record<string, unknown>> = Object.freeze({
  highPriorityMessageFrequency: 'PT7M',
  lowPriorityMessageFrequency: 'PT5H',
  snapshotFrequency: 'PT13H',
  maxLocalCacheSizeInBytes: 2560000,
  maxMessageSizeInBytes: 204800,
  eventPriorityDiagnostic: 'Low',
  eventPriorityConfigurationError: 'Low',
  eventPriorityDroppedEventsStatistics: 'Low',
  eventPriorityMessageStatistics: 'Low',
  eventPriorityConnectedHardware: 'Low',
  eventPriorityListeningPorts: 'High',
  eventPriorityProcessCreate: 'Low',
  eventPriorityProcessTerminate: 'Low',
  eventPrioritySystemInformation: 'Low',
  eventPriorityLocalUsers: 'High',
  eventPriorityLogin: 'High',
  eventPriorityConnectionCreate: 'Low',
  eventPriorityFirewallConfiguration: 'Low',
  eventPriorityOSBaseline: 'Low',
});

/** Simple per-key validation the simulated micro agent applies; unknown keys pass. */
function microValueIsValid(key: string, value: unknown): boolean {
  if (key.endsWith('_Disabled') || key === 'Login_UsePAM' || key === 'FileSystem_Recursive') return typeof value === 'boolean';
  if (key.endsWith('_MessageFrequency')) return value === 'Low' || value === 'Medium' || value === 'High';
  if (key === 'CollectorsCore_PriorityIntervals') return typeof value === 'string' && /^\d+,\d+,\d+$/.test(value);
  if (
    key.endsWith('_CacheSize') ||
    key.endsWith('_PollingInterval') ||
    key === 'IothubModule_MessageTimeout' ||
    key === 'NetworkActivity_PacketBufferSize'
  ) {
    return typeof value === 'number' && Number.isInteger(value) && value > 0;
  }
  if (key === 'Process_Mode') return value === 1 || value === 2 || value === 3;
  return true;
}

/**
 * The reported patch an agent in `mode` sends for the twin's current sections (without `$metadata`/`$version`), or
 * undefined when it reports nothing (a rejecting legacy agent that already reported keeps its configuration).
 */
export function agentReport(
  moduleId: string,
  desired: Record<string, unknown>,
  reported: Record<string, unknown>,
  mode: ReportingMode,
  rejectKeys?: readonly string[],
): Record<string, unknown> | undefined {
  const config = stripMeta(desired);
  const current = stripMeta(reported);
  return moduleId === LEGACY_MODULE_ID ? legacyReport(config, current, mode) : microReport(config, current, mode, rejectKeys);
}

function stripMeta(section: Record<string, unknown>): Record<string, unknown> {
  const { $metadata: _metadata, $version: _version, ...values } = section;
  return values;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function microReport(
  desired: Record<string, unknown>,
  reported: Record<string, unknown>,
  mode: ReportingMode,
  rejectKeys?: readonly string[],
): Record<string, unknown> {
  const configKeys = Object.keys(desired).filter((key) => !isPlainObject(desired[key]));
  let invalid = configKeys.filter((key) => !microValueIsValid(key, desired[key]));
  if (mode === 'rejectConfiguration') {
    const requested = rejectKeys ? configKeys.filter((key) => rejectKeys.includes(key)) : invalid;
    invalid = requested.length > 0 ? requested : configKeys;
    // A config with nothing to reject still fails: the mode exists to produce a failed agent.
    if (invalid.length === 0) return { latest_state: 'failed', latest_invalid_fields: [] };
  }
  if (invalid.length > 0) return { latest_state: 'failed', latest_invalid_fields: invalid };
  const effective: Record<string, unknown> = { ...MICRO_AGENT_DEFAULTS };
  for (const key of configKeys) effective[key] = desired[key];
  const patch: Record<string, unknown> = { ...effective, latest_state: 'success', latest_invalid_fields: [] };
  // Keys reported before but no longer configured fall back to defaults or disappear.
  for (const key of Object.keys(reported)) if (!(key in patch)) patch[key] = null;
  return patch;
}

function legacyReport(
  desired: Record<string, unknown>,
  reported: Record<string, unknown>,
  mode: ReportingMode,
): Record<string, unknown> | undefined {
  const key = LEGACY_CONFIGURATION_KEYS.find((candidate) => isPlainObject(desired[candidate])) ?? LEGACY_CONFIGURATION_KEYS[0];
  const wrapped = key === LEGACY_CONFIGURATION_KEYS[1];
  const alreadyReported = LEGACY_CONFIGURATION_KEYS.some((candidate) => isPlainObject(reported[candidate]));
  const config = isPlainObject(desired[key]) ? desired[key] : {};
  const defaults = wrapped
    ? Object.fromEntries(Object.entries(LEGACY_AGENT_DEFAULTS).map(([k, v]) => [k, { value: v }]))
    : LEGACY_AGENT_DEFAULTS;
  // A rejecting legacy agent ignores the new object and keeps its current configuration.
  if (mode === 'rejectConfiguration') return alreadyReported ? undefined : { [key]: { ...defaults } };
  return { [key]: { ...defaults, ...config } };
}
