/**
 * The event path's half of storm mode: a device creation becomes a durable PendingProvisioning row (the import job
 * creates the module later) instead of three registry calls now. What the notification twin already decides —
 * target condition, Edge device, self-signed device — is recorded at once, exactly as the per-device path would.
 */
import { decideDeferral } from '../../domain/registration-storm';
import { baselineDesiredPatch } from '../../domain/security-module/baseline-patch';
import type { EventPosition, JsonObject } from '../../domain/types';
import type { PendingProvisioning } from '../../ports/pending-provisioning-store';
import type { ProvisioningResult } from '../ensure-security-module';
import type { ProcessingSettings } from '../settings';

export interface DeferredProvisioning {
  result: ProvisioningResult;
  /** The row to record before the batch's posture is written; absent when nothing is left to create. */
  pending?: PendingProvisioning;
}

export function deferProvisioning(
  device: { deviceId: string; twin: JsonObject; position: EventPosition },
  settings: ProcessingSettings,
): DeferredProvisioning {
  const decision = decideDeferral(device.twin, settings);
  if (decision.kind === 'record') {
    return { result: { status: decision.status, baselineApplied: false, ...(decision.detail ? { detail: decision.detail } : {}) } };
  }
  const pending: PendingProvisioning = {
    deviceId: device.deviceId,
    moduleId: settings.securityModuleId,
    desired: baselineDesiredPatch(settings.baseline, settings.baselineSchema),
    position: device.position,
  };
  const detail: JsonObject = { via: 'importJob' };
  if (decision.kind === 'queue') {
    pending.authentication = decision.authentication;
    detail['authType'] = decision.authentication.type;
  }
  return { result: { status: 'queuedForImport', baselineApplied: false, detail }, pending };
}
