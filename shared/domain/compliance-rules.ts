/**
 * Compliance rules of the scheduled sweep: each a pure function of one device row, its security module row (or
 * none) and the rule settings, with a stable id, a severity and a human message. Plus scoping, suppression
 * matching and repair planning. No clock: the sweep's start time is passed in, so a re-run shard decides alike.
 */
import { baselineDiff } from './security-module/baseline-patch';
import { contentNotApplied, type ManagingConfiguration } from './configurations/managing-configuration';
import { compareConfiguration } from './security-module/compare-configuration';
import { readAgentState } from './security-module/read-agent-state';
import { evaluateCondition, parseCondition, type TwinCondition } from './iothub-query/twin-condition';
import { sectionLastUpdated } from './twin-patch';
import type { AuthenticationType } from './authentication-type';
import type { JsonObject, SecurityAgentSchema } from './types';
import { RULE_IDS, type RuleId, type Severity } from './rule-ids';

export { RULE_IDS, REPAIRABLE_RULES, type RuleId, type Severity } from './rule-ids';

/** A device as the sweep's projected `devices` query returns it. */
export interface SweepDevice {
  deviceId: string;
  status: 'enabled' | 'disabled';
  iotEdge: boolean;
  authType?: AuthenticationType;
  tags: JsonObject;
  /** The row as queried (deviceId, status, capabilities, tags, authenticationType[, properties]): what conditions see. */
  twin: JsonObject;
}

/** A security module as the sweep's projected `devices.modules` query returns it. */
export interface SweepModule {
  deviceId: string;
  moduleId: string;
  status?: string;
  connectionState?: string;
  lastActivityTime?: string;
  authType?: AuthenticationType;
  /** Full sections, `$metadata` / `$version` included. */
  desired: JsonObject;
  reported: JsonObject;
  /** Module twin tags (target conditions of module configurations may read them). */
  tags?: JsonObject;
  /** The IoT Hub automatic configuration that manages this module's desired properties, if any. */
  managedBy?: ManagingConfiguration;
}

export interface RuleSettings {
  moduleId: string;
  schema: SecurityAgentSchema;
  baseline: JsonObject;
  staleAgentHours: number;
  inactiveModuleHours: number;
  requiredModuleAuth: 'any' | 'x509';
}

export interface Finding {
  ruleId: RuleId;
  severity: Severity;
  message: string;
}

export type RuleFn = (device: SweepDevice, module: SweepModule | undefined, settings: RuleSettings, now: Date) => Finding | undefined;

const HOUR_MS = 3_600_000;
/** IoT Hub's "never" timestamp (connection times, empty metadata). */
const NEVER_YEAR = '0001-';

function isNever(time: string | undefined): boolean {
  return time === undefined || time.startsWith(NEVER_YEAR) || Number.isNaN(Date.parse(time));
}

function hoursText(ms: number): string {
  return `${Math.floor(ms / HOUR_MS)} h`;
}

export const RULES: Readonly<Record<RuleId, RuleFn>> = Object.freeze({
  'module-missing': (device, module, settings) =>
    module
      ? undefined
      : {
          ruleId: 'module-missing',
          severity: 'critical',
          message: `security module ${settings.moduleId} is missing on device ${device.deviceId}`,
        },

  'identity-disabled': (device, module) => {
    const disabled = [device.status === 'disabled' ? 'device' : undefined, module?.status === 'disabled' ? 'module' : undefined].filter(
      (part) => part !== undefined,
    );
    return disabled.length === 0
      ? undefined
      : { ruleId: 'identity-disabled', severity: 'high', message: `${disabled.join(' and ')} identity disabled` };
  },

  'configuration-drift': (_device, module, settings) => {
    if (!module) return undefined;
    // A failed agent is the agent-failed rule's finding; counting it here too would double every failure.
    if (readAgentState(module.reported).agentState === 'failed') return undefined;
    const { state, driftedKeys } = compareConfiguration(module.desired, module.reported, settings.schema);
    return state === 'drifted'
      ? {
          ruleId: 'configuration-drift',
          severity: 'medium',
          message: `reported configuration differs from desired: ${driftedKeys.join(', ')}`,
        }
      : undefined;
  },

  'agent-failed': (_device, module) => {
    if (!module) return undefined;
    const { agentState, invalidFields } = readAgentState(module.reported);
    if (agentState !== 'failed') return undefined;
    const fields = invalidFields.length === 0 ? 'no invalid fields named' : `invalid fields: ${invalidFields.join(', ')}`;
    return { ruleId: 'agent-failed', severity: 'high', message: `agent reports latest_state=failed (${fields})` };
  },

  'baseline-not-applied': (_device, module, settings) => {
    if (!module) return undefined;
    if (module.managedBy) {
      // The managing configuration is the baseline here: IoT Hub would take TwinGuard's own settings out again.
      const notApplied = contentNotApplied(module.desired, module.managedBy.desired);
      return notApplied.length === 0
        ? undefined
        : {
            ruleId: 'baseline-not-applied',
            severity: 'medium',
            message: `desired configuration lacks the content of IoT Hub configuration ${module.managedBy.configurationId} for: ${notApplied.join(', ')}`,
          };
    }
    const missing = baselineDiff(module.desired, settings.baseline, settings.schema);
    return missing.length === 0
      ? undefined
      : {
          ruleId: 'baseline-not-applied',
          severity: 'medium',
          message: `desired configuration lacks the baseline for: ${missing.join(', ')}`,
        };
  },

  'agent-stale': (_device, module, settings, now) => {
    if (!module) return undefined;
    const lastUpdated = sectionLastUpdated(module.reported);
    if (isNever(lastUpdated)) return { ruleId: 'agent-stale', severity: 'medium', message: 'agent has never reported' };
    const age = now.getTime() - Date.parse(lastUpdated as string);
    return age > settings.staleAgentHours * HOUR_MS
      ? {
          ruleId: 'agent-stale',
          severity: 'medium',
          message: `no reported update for ${hoursText(age)} (limit ${settings.staleAgentHours} h, last ${lastUpdated as string})`,
        }
      : undefined;
  },

  'module-inactive': (_device, module, settings, now) => {
    if (!module || module.connectionState === 'Connected') return undefined;
    if (isNever(module.lastActivityTime))
      return { ruleId: 'module-inactive', severity: 'low', message: 'module is not connected and has never been active' };
    const idle = now.getTime() - Date.parse(module.lastActivityTime as string);
    return idle > settings.inactiveModuleHours * HOUR_MS
      ? {
          ruleId: 'module-inactive',
          severity: 'low',
          message: `module not connected, inactive for ${hoursText(idle)} (limit ${settings.inactiveModuleHours} h)`,
        }
      : undefined;
  },

  'module-auth-weak': (_device, module, settings) => {
    if (!module || settings.requiredModuleAuth === 'any') return undefined;
    const type = module.authType ?? 'none';
    return type === 'selfSigned' || type === 'certificateAuthority'
      ? undefined
      : {
          ruleId: 'module-auth-weak',
          severity: 'medium',
          message: `module authenticates with ${type}; policy requires X.509 (selfSigned or certificateAuthority)`,
        };
  },
});

/** Every rule's finding for one device, in RULE_IDS order. */
export function evaluateDevice(device: SweepDevice, module: SweepModule | undefined, settings: RuleSettings, now: Date): Finding[] {
  const findings: Finding[] = [];
  for (const ruleId of RULE_IDS) {
    const finding = RULES[ruleId](device, module, settings, now);
    if (finding) findings.push(finding);
  }
  return findings;
}

// ---------------------------------------------------------------------------------------------------------------
// Scope

export type Scope = 'inScope' | 'edge' | 'condition';

/** Out-of-scope devices (Edge when PROVISION_EDGE_DEVICES is off, or not matching the target condition) are counted, not evaluated. */
export function scopeOf(device: SweepDevice, scope: { provisionEdgeDevices: boolean; targetCondition?: TwinCondition }): Scope {
  if (device.iotEdge && !scope.provisionEdgeDevices) return 'edge';
  if (scope.targetCondition && !evaluateCondition(scope.targetCondition, device.twin)) return 'condition';
  return 'inScope';
}

// ---------------------------------------------------------------------------------------------------------------
// Suppressions

/** An operator's exception: one rule (or `*`) for one device or for every device matching a twin condition. */
export interface Suppression {
  id: string;
  ruleId: RuleId | '*';
  deviceId?: string;
  /** Twin condition on the device row (tags, status, capabilities, authenticationType, deviceId). */
  selector?: string;
  reason: string;
  createdAt: string;
  /** ISO; absent means until deleted. */
  expiresAt?: string;
}

/** A suppression ready to match: its selector parsed once. */
export interface ActiveSuppression {
  suppression: Suppression;
  selector?: TwinCondition;
}

/** Suppressions in force at `now` (expired ones dropped), selectors compiled. Throws ConditionSyntaxError on a bad stored selector. */
export function activeSuppressions(suppressions: readonly Suppression[], now: Date): ActiveSuppression[] {
  return suppressions
    .filter((suppression) => suppression.expiresAt === undefined || Date.parse(suppression.expiresAt) > now.getTime())
    .map((suppression) =>
      suppression.selector === undefined ? { suppression } : { suppression, selector: parseCondition(suppression.selector) },
    );
}

/** The suppression covering this finding, if any (device-specific ones win over selectors, then the lowest id). */
export function matchSuppression(device: SweepDevice, ruleId: RuleId, active: readonly ActiveSuppression[]): Suppression | undefined {
  let best: Suppression | undefined;
  for (const { suppression, selector } of active) {
    if (suppression.ruleId !== '*' && suppression.ruleId !== ruleId) continue;
    const matches =
      suppression.deviceId !== undefined
        ? suppression.deviceId === device.deviceId
        : selector !== undefined && evaluateCondition(selector, device.twin);
    if (!matches) continue;
    const rank = (candidate: Suppression): number => (candidate.deviceId !== undefined ? 0 : 1);
    if (!best || rank(suppression) < rank(best) || (rank(suppression) === rank(best) && suppression.id < best.id)) best = suppression;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------------------
// Verdicts and repairs

export type FindingStatus = 'violation' | 'suppressed';

export interface DeviceFinding extends Finding {
  status: FindingStatus;
  suppressionId?: string;
}

export type RepairAction = 'createModule' | 'applyBaseline';

export interface DeviceVerdict {
  findings: DeviceFinding[];
  /** No violation (suppressed findings do not count). */
  compliant: boolean;
  /** Repairs due, in order; empty when nothing to repair or the rules are not opted in. */
  repairs: RepairAction[];
}

/**
 * Applies suppressions and plans repairs for one evaluated device. Suppressed findings are never repaired (as AWS
 * Device Defender never mitigates suppressed findings). Creating a module also applies the baseline, so a missing
 * module yields one `createModule` repair only.
 */
export function verdictFor(
  device: SweepDevice,
  findings: readonly Finding[],
  active: readonly ActiveSuppression[],
  repairRules: ReadonlySet<string>,
): DeviceVerdict {
  const deviceFindings: DeviceFinding[] = findings.map((finding) => {
    const suppression = matchSuppression(device, finding.ruleId, active);
    return suppression ? { ...finding, status: 'suppressed', suppressionId: suppression.id } : { ...finding, status: 'violation' };
  });
  const violated = new Set(deviceFindings.filter((finding) => finding.status === 'violation').map((finding) => finding.ruleId));
  const repairs: RepairAction[] = [];
  if (violated.has('module-missing') && repairRules.has('module-missing')) repairs.push('createModule');
  else if (violated.has('baseline-not-applied') && repairRules.has('baseline-not-applied')) repairs.push('applyBaseline');
  return { findings: deviceFindings, compliant: violated.size === 0, repairs };
}
