import { toAuthenticationType } from '../domain/authentication-type';
import { moduleAuthenticationFor } from '../domain/module-authentication';
import { evaluateCondition } from '../domain/iothub-query/twin-condition';
import { baselineDesiredPatch } from '../domain/security-module/baseline-patch';
import type { JsonObject, ProvisioningStatus } from '../domain/types';
import type { Logger } from '../logger';
import type { DeviceRegistry } from '../ports/device-registry';
import type { ProcessingSettings } from './settings';

export interface ProvisioningResult {
  status: ProvisioningStatus;
  /** Whether the baseline was written to the module twin's desired properties by this call. */
  baselineApplied: boolean;
  detail?: JsonObject;
}

export interface DeviceCreatedFacts {
  deviceId: string;
  /** The twin carried by the lifecycle notification (tags, capabilities, authenticationType when present). */
  twin: JsonObject;
}

function readEdge(twin: JsonObject): boolean | undefined {
  const capabilities = twin['capabilities'];
  if (capabilities && typeof capabilities === 'object' && 'iotEdge' in capabilities) {
    return (capabilities as { iotEdge?: unknown }).iotEdge === true;
  }
  return undefined;
}

/** True when the desired section carries none of the agent configuration (a module nobody configured yet). */
function desiredHoldsNoConfiguration(desired: JsonObject): boolean {
  return Object.keys(desired).every((key) => key.startsWith('$'));
}

/**
 * Makes sure the security module identity exists on a newly created device, idempotently:
 * get → create (409 = already there) → apply the baseline to a module nobody configured yet.
 * A replay after a crash between "create" and "apply baseline" finds the module unconfigured
 * and applies the baseline then, so the two steps need no transaction.
 * Registry failures that outlive the retry budget propagate (the invocation fails and is retried).
 */
export async function ensureSecurityModule(
  device: DeviceCreatedFacts,
  registry: DeviceRegistry,
  settings: ProcessingSettings,
  logger: Logger,
): Promise<ProvisioningResult> {
  const { deviceId, twin } = device;
  const moduleId = settings.securityModuleId;

  if (settings.targetCondition && !evaluateCondition(settings.targetCondition, twin)) {
    return { status: 'skippedByCondition', baselineApplied: false, detail: { condition: settings.targetCondition.text } };
  }

  let authType = toAuthenticationType(twin['authenticationType']);
  let edge = readEdge(twin);
  if (authType === undefined || edge === undefined) {
    // Lifecycle bodies are documented as "the twin", but captures show minimal bodies: ask the registry.
    const identity = await registry.getDevice(deviceId);
    if (!identity) return { status: 'deviceNotFound', baselineApplied: false };
    authType = identity.authType;
    edge = identity.iotEdge;
  }

  if (edge && !settings.provisionEdgeDevices) return { status: 'skippedEdge', baselineApplied: false };
  const authentication = moduleAuthenticationFor(authType);
  if (!authentication) {
    return {
      status: 'needsThumbprint',
      baselineApplied: false,
      detail: { reason: 'self-signed device: the module needs an operator-supplied X.509 thumbprint' },
    };
  }

  const existing = await registry.getModule(deviceId, moduleId);
  let status: ProvisioningStatus = 'alreadyPresent';
  if (!existing) {
    const created = await registry.createModule(deviceId, moduleId, authentication);
    if (created === 'deviceNotFound') return { status: 'deviceNotFound', baselineApplied: false };
    status = created === 'created' ? 'created' : 'alreadyPresent';
  }

  const baselineApplied = await applyBaselineIfUnconfigured(deviceId, registry, settings, status === 'created');
  if (baselineApplied === 'moduleGone') return { status: 'deviceNotFound', baselineApplied: false };
  logger.info('security module ensured', { deviceId, moduleId, status, baselineApplied, authType: authentication.type });
  return { status, baselineApplied, detail: { authType: authentication.type } };
}

/** Also used by storm mode for a module the import job found already present. */
export async function applyBaselineIfUnconfigured(
  deviceId: string,
  registry: DeviceRegistry,
  settings: ProcessingSettings,
  justCreated: boolean,
): Promise<boolean | 'moduleGone'> {
  const patch = baselineDesiredPatch(settings.baseline, settings.baselineSchema);
  if (Object.keys(patch).length === 0) return false;
  const moduleId = settings.securityModuleId;
  // A module we just created has nothing to overwrite; otherwise write only against the etag we
  // read, so an operator's configuration made in between is never replaced.
  let etag = '*';
  if (!justCreated) {
    const twin = await registry.getModuleTwin(deviceId, moduleId);
    if (!twin) return 'moduleGone';
    if (!desiredHoldsNoConfiguration(twin.desired)) return false;
    etag = twin.etag;
  }
  const updated = await registry.updateModuleDesired(deviceId, moduleId, patch, etag);
  return updated ? true : 'moduleGone';
}
