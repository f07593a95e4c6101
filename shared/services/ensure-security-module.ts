import { toAuthenticationType } from '../domain/authentication-type';
import { moduleAuthenticationFor } from '../domain/module-authentication';
import { managingConfiguration } from '../domain/configurations/managing-configuration';
import { rankConfigurations, type RankedConfiguration } from '../domain/configurations/winning-configuration';
import { evaluateCondition } from '../domain/iothub-query/twin-condition';
import { baselineDesiredPatch } from '../domain/security-module/baseline-patch';
import type { JsonObject, ProvisioningStatus } from '../domain/types';
import type { Logger } from '../logger';
import type { DeviceRegistry } from '../ports/device-registry';
import type { ConfigurationCatalog } from './configuration-catalog';
import type { ProcessingSettings } from './settings';

export interface ProvisioningResult {
  status: ProvisioningStatus;
  /** Whether the baseline was written to the module twin's desired properties by this call. */
  baselineApplied: boolean;
  /** The IoT Hub automatic configuration that manages the module (TwinGuard then writes no baseline). */
  managedBy?: string;
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
 * Where an IoT Hub automatic configuration targets the module, no baseline is written: the hub applies the
 * configuration's content, and would take TwinGuard's out again.
 * Registry failures that outlive the retry budget propagate (the invocation fails and is retried).
 */
export async function ensureSecurityModule(
  device: DeviceCreatedFacts,
  registry: DeviceRegistry,
  settings: ProcessingSettings,
  logger: Logger,
  configurations?: ConfigurationCatalog,
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

  const ranked = configurations ? await configurations.current() : rankConfigurations(await registry.listConfigurations()).ranked;
  const outcome = await applyBaselineIfUnconfigured(deviceId, registry, settings, status === 'created', ranked);
  if (outcome === 'moduleGone') return { status: 'deviceNotFound', baselineApplied: false };
  const baselineApplied = outcome === true;
  const managed = typeof outcome === 'object' ? outcome.managedBy : undefined;
  logger.info('security module ensured', {
    deviceId,
    moduleId,
    status,
    baselineApplied,
    managedBy: managed,
    authType: authentication.type,
  });
  const detail: JsonObject = { authType: authentication.type };
  if (managed !== undefined) detail['managedBy'] = managed;
  return { status, baselineApplied, ...(managed !== undefined ? { managedBy: managed } : {}), detail };
}

/** Also used by storm mode for a module the import job found already present. */
export async function applyBaselineIfUnconfigured(
  deviceId: string,
  registry: DeviceRegistry,
  settings: ProcessingSettings,
  justCreated: boolean,
  ranked: readonly RankedConfiguration[],
): Promise<boolean | 'moduleGone' | { managedBy: string }> {
  const patch = baselineDesiredPatch(settings.baseline, settings.baselineSchema);
  const moduleId = settings.securityModuleId;
  // A module we just created has nothing to overwrite; otherwise write only against the etag we
  // read, so an operator's configuration made in between is never replaced.
  let etag = '*';
  let facts: Parameters<typeof managingConfiguration>[1] = { deviceId, moduleId };
  const twin = justCreated ? undefined : await registry.getModuleTwin(deviceId, moduleId);
  if (!justCreated) {
    if (!twin) return 'moduleGone';
    facts = { deviceId, moduleId, tags: twin.tags, desired: twin.desired, reported: twin.reported };
    etag = twin.etag;
  }
  const managing = managingConfiguration(ranked, facts);
  if (managing) return { managedBy: managing.configurationId };
  if (Object.keys(patch).length === 0) return false;
  if (twin && !desiredHoldsNoConfiguration(twin.desired)) return false;
  const updated = await registry.updateModuleDesired(deviceId, moduleId, patch, etag);
  return updated ? true : 'moduleGone';
}
