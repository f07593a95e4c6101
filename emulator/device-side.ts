/**
 * The device side of the emulated hub: what devices (and their security agents) would write into their
 * twins. There are no device protocols here; tests and seeding call these directly.
 */
import {
  LEGACY_CONFIG_KEYS as LEGACY_CONFIGURATION_KEYS,
  LEGACY_MODULE_ID as LEGACY_AGENT_MODULE_ID,
  MICRO_AGENT_MODULE_ID,
} from '../shared/domain/security-module/module-ids';
import type { HubChange } from './hub-events';
import type { ConnectionState } from './registry/identity-json';
import type { HubRegistry } from './registry/hub-registry';

/** Device-side twin operations: reported properties and connection state. */
export class DeviceSide {
  constructor(private readonly registry: HubRegistry) {}

  /** Merges a reported patch (null deletes) into a device or module twin, as a device client would. */
  setReported(deviceId: string, patch: Record<string, unknown>, moduleId?: string): void {
    this.registry.updateReported(deviceId, moduleId, patch);
  }

  /** Marks the device (or module) connected/disconnected and updates lastActivityTime. */
  setConnectionState(deviceId: string, state: ConnectionState, moduleId?: string): void {
    this.registry.setConnectionState(deviceId, moduleId, state);
  }
}

export type AgentMode = 'healthy' | 'rejectConfiguration' | 'silent';

/** The agent's names and keys are TwinGuard's own domain facts; the simulated agent uses the same ones. */
export {
  MICRO_AGENT_MODULE_ID,
  LEGACY_MODULE_ID as LEGACY_AGENT_MODULE_ID,
  LEGACY_CONFIG_KEYS as LEGACY_CONFIGURATION_KEYS,
} from '../shared/domain/security-module/module-ids';

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

export interface SecurityAgentSimulatorOptions {
  /** Mode for devices without an explicit one (default 'healthy'). */
  defaultMode?: AgentMode;
  /** Delay before reporting; 0 reports on the next turn of the event loop (setImmediate). */
  reportDelayMs?: number;
  /** Module IDs that host a security agent (default: DefenderIotMicroAgent and azureiotsecurity). */
  moduleIds?: readonly string[];
}

/**
 * A simulated Defender for IoT agent per device. It watches registry changes; when a security module
 * twin is created or its desired properties change, it reports its effective configuration:
 * - micro agent: desired flat keys over defaults, plus `latest_state` and `latest_invalid_fields`;
 * - legacy agent: the configuration object echoed under the same key, with defaults filled in;
 * - 'rejectConfiguration': micro agent reports `latest_state: 'failed'` naming the rejected keys and keeps
 *   its old configuration; legacy agent keeps reporting its old configuration;
 * - 'silent': never reports (a stale agent).
 */
export class SecurityAgentSimulator {
  private defaultMode: AgentMode;
  private readonly modes = new Map<string, { mode: AgentMode; rejectKeys?: readonly string[] }>();
  private readonly moduleIds: ReadonlySet<string>;
  private readonly reportDelayMs: number;
  private readonly pending = new Set<NodeJS.Timeout | NodeJS.Immediate>();
  private idleWaiters: Array<() => void> = [];
  private readonly unsubscribe: () => void;
  private stopped = false;

  constructor(
    private readonly registry: HubRegistry,
    options: SecurityAgentSimulatorOptions = {},
  ) {
    this.defaultMode = options.defaultMode ?? 'healthy';
    this.reportDelayMs = options.reportDelayMs ?? 0;
    this.moduleIds = new Set(options.moduleIds ?? [MICRO_AGENT_MODULE_ID, LEGACY_AGENT_MODULE_ID]);
    this.unsubscribe = registry.onChange((change) => this.onChange(change));
  }

  /** Sets a device's agent mode; `rejectKeys` names the desired keys a rejecting micro agent refuses. */
  setMode(deviceId: string, mode: AgentMode, options: { rejectKeys?: readonly string[] } = {}): void {
    this.modes.set(deviceId, { mode, rejectKeys: options.rejectKeys });
  }

  setDefaultMode(mode: AgentMode): void {
    this.defaultMode = mode;
  }

  modeOf(deviceId: string): AgentMode {
    return this.modes.get(deviceId)?.mode ?? this.defaultMode;
  }

  /** Resolves once no report is scheduled (reports can schedule nothing further, so this settles). */
  whenIdle(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops watching and cancels scheduled reports. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    for (const handle of this.pending) {
      clearTimeout(handle as NodeJS.Timeout);
      clearImmediate(handle as NodeJS.Immediate);
    }
    this.pending.clear();
    this.settle();
  }

  /** Computes and writes the agent's report now (what a scheduled report does). Exposed for seeding. */
  reportNow(deviceId: string, moduleId: string, options: { notify?: boolean } = {}): void {
    const twin = this.registry.findTwin(deviceId, moduleId);
    if (!twin) return;
    const entry = this.modes.get(deviceId);
    const mode = entry?.mode ?? this.defaultMode;
    if (mode === 'silent') return;
    const properties = twin.properties as { desired: Record<string, unknown>; reported: Record<string, unknown> };
    const desired = stripMeta(properties.desired);
    const reported = stripMeta(properties.reported);
    const patch =
      moduleId === LEGACY_AGENT_MODULE_ID ? legacyReport(desired, reported, mode) : microReport(desired, reported, mode, entry?.rejectKeys);
    if (!patch) return;
    // An agent reports over its own connection: the module is connected and active while it does.
    if (twin['connectionState'] !== 'Connected')
      this.registry.setConnectionState(deviceId, moduleId, 'Connected', { notify: options.notify });
    this.registry.updateReported(deviceId, moduleId, patch, { notify: options.notify });
  }

  private onChange(change: HubChange): void {
    if (this.stopped || change.moduleId === undefined || !this.moduleIds.has(change.moduleId)) return;
    const created = change.kind === 'lifecycle' && change.opType === 'createDeviceIdentity';
    const desiredChanged =
      change.kind === 'twinChange' &&
      typeof change.body.properties === 'object' &&
      change.body.properties !== null &&
      'desired' in change.body.properties;
    if (!created && !desiredChanged) return;
    if (this.modeOf(change.deviceId) === 'silent') return;
    const { deviceId, moduleId } = change;
    const run = (): void => {
      this.pending.delete(handle);
      if (!this.stopped) this.reportNow(deviceId, moduleId);
      this.settle();
    };
    const handle = this.reportDelayMs > 0 ? setTimeout(run, this.reportDelayMs) : setImmediate(run);
    this.pending.add(handle);
  }

  private settle(): void {
    if (this.pending.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
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
  mode: AgentMode,
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
  mode: AgentMode,
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
