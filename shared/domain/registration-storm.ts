/**
 * When a batch of device creations is a registration storm, and what a deferred creation needs, pure.
 *
 * IoT Hub allows S1 and S2 100 identity-registry operations per minute per unit and S3 5,000 (learn.microsoft.com
 * iot-hub-devguide-quotas-throttling; /work/shared/reference/limits.md B3), and the per-device path spends about 3 per
 * new device (get module, create module, apply the baseline). The automatic threshold is the number of devices whose
 * per-call provisioning takes half a minute of the whole hub's registry quota: S1 × 1 unit → ⌊100 × 0.5 / 3⌋ = 16.
 * A batch with more creations than that would hold its partition's checkpoint for longer than half a minute (and
 * longer still while the sweep and other clients share the quota), so its creations go to one import job instead.
 */
import type { TwinCondition } from './iothub-query/twin-condition';
import { evaluateCondition } from './iothub-query/twin-condition';
import { toAuthenticationType, type AuthenticationType } from './authentication-type';
import { moduleAuthenticationFor, type AutomaticModuleAuthentication } from './module-authentication';
import { encodeKeySegment } from './table-keys';
import type { JsonObject, ProvisioningStatus } from './types';

export type HubTier = 'S1' | 'S2' | 'S3';

export const HUB_TIERS: readonly HubTier[] = ['S1', 'S2', 'S3'];

/** Registry calls the per-device path makes for one new device (get, create, baseline). */
export const REGISTRY_CALLS_PER_DEVICE = 3;

/** Share of a minute of the hub's registry quota one batch may spend on per-call provisioning. */
const BATCH_QUOTA_MINUTES = 0.5;

/** Identity registry operations per minute of the whole hub. */
export function registryOpsPerMinute(tier: HubTier, units: number): number {
  return (tier === 'S3' ? 5000 : 100) * units;
}

/** The `auto` threshold: creations per batch above which the batch is a storm (16 for S1 × 1). */
export function autoStormThreshold(tier: HubTier, units: number): number {
  return Math.max(1, Math.floor((registryOpsPerMinute(tier, units) * BATCH_QUOTA_MINUTES) / REGISTRY_CALLS_PER_DEVICE));
}

/** `undefined` threshold: storm mode is off. Strictly more creations than the threshold make a storm. */
export function isRegistrationStorm(creations: number, threshold: number | undefined): boolean {
  return threshold !== undefined && creations > threshold;
}

export interface DeferralSettings {
  provisionEdgeDevices: boolean;
  targetCondition?: TwinCondition;
}

/** What the device's facts (its notification twin, or a registry query row) decide without calling the registry. */
export type DeferralDecision =
  | { kind: 'record'; status: Extract<ProvisioningStatus, 'skippedByCondition' | 'skippedEdge' | 'needsThumbprint'>; detail?: JsonObject }
  | { kind: 'queue'; authentication: AutomaticModuleAuthentication }
  /** The twin did not say whether the device is an Edge device or how it authenticates: ask the registry (in bulk). */
  | { kind: 'resolve' };

function readEdge(twin: JsonObject): boolean | undefined {
  const capabilities = twin['capabilities'];
  if (capabilities && typeof capabilities === 'object' && 'iotEdge' in capabilities) {
    return (capabilities as { iotEdge?: unknown }).iotEdge === true;
  }
  return undefined;
}

/**
 * The per-device path's rules (shared/services/ensure-security-module.ts) in the same order — target condition on the
 * notification twin, Edge devices, then the module's authentication from the device's (shared/domain/module-
 * authentication.ts) — applied to facts instead of registry calls. `checkCondition` false: the condition was already
 * evaluated on the notification twin (a registry row has other fields).
 */
export function decideDeferral(twin: JsonObject, settings: DeferralSettings, checkCondition = true): DeferralDecision {
  if (checkCondition && settings.targetCondition && !evaluateCondition(settings.targetCondition, twin)) {
    return { kind: 'record', status: 'skippedByCondition', detail: { condition: settings.targetCondition.text } };
  }
  const authType: AuthenticationType | undefined = toAuthenticationType(twin['authenticationType']);
  const edge = readEdge(twin);
  if (authType === undefined || edge === undefined) return { kind: 'resolve' };
  if (edge && !settings.provisionEdgeDevices) return { kind: 'record', status: 'skippedEdge' };
  const authentication = moduleAuthenticationFor(authType);
  if (!authentication) {
    return {
      kind: 'record',
      status: 'needsThumbprint',
      detail: { reason: 'self-signed device: the module needs an operator-supplied X.509 thumbprint' },
    };
  }
  return { kind: 'queue', authentication };
}

/**
 * The key of a deferred creation: the device (so rows list in device order) and the device-created event's position
 * (so a replay of the event finds its own row and a re-created device gets a row of its own).
 */
export function pendingProvisioningKey(deviceId: string, position: { partitionId: string; sequenceNumber: number }): string {
  return `${encodeKeySegment(deviceId)}|${position.partitionId}_${String(position.sequenceNumber).padStart(20, '0')}`;
}
