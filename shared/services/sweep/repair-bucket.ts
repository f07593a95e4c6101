import { mapWithConcurrency } from '../../concurrency';
import { classifyServiceError, errorMessage } from '../../errors';
import { moduleAuthenticationFor } from '../../domain/module-authentication';
import { baselineDesiredPatch } from '../../domain/security-module/baseline-patch';
import { countRepair, type SweepCounters } from '../../domain/sweep-summary';
import type { JsonObject } from '../../domain/types';
import type { ModuleImportJobs } from '../../ports/module-import-jobs';
import type { SweepRun } from '../../ports/sweep-store';
import type { Evaluated } from './evaluated';
import type { SweepServices } from './sweep-services';

/** One import-job line: create the module with the baseline as its desired properties. */
export function importLine(deviceId: string, moduleId: string, authType: 'sas' | 'certificateAuthority', desired: JsonObject): string {
  const line: JsonObject = { id: deviceId, moduleId, importMode: 'create', authentication: { type: authType } };
  if (Object.keys(desired).length > 0) line['properties'] = { desired };
  return JSON.stringify(line);
}

export async function repairBucket(
  run: SweepRun,
  blockKey: string,
  evaluated: Evaluated[],
  counters: SweepCounters,
  services: SweepServices,
): Promise<void> {
  const settings = services.settings;
  const moduleId = settings.rules.moduleId;
  const patch = baselineDesiredPatch(settings.rules.baseline, settings.rules.schema);
  const bulk = run.plan?.bulkImport === true && services.imports !== undefined;
  const importLines: string[] = [];

  await mapWithConcurrency(evaluated, settings.writeConcurrency, async (item) => {
    // Where an IoT Hub configuration manages the module, its content is the baseline: anything else would be reverted
    // by the hub. A module it will manage is created bare and configured by the hub's next evaluation.
    const moduleBaseline = item.managedBy ? item.managedBy.desired : patch;
    const creationBaseline = item.managedBy ? {} : patch;
    for (const action of item.verdict.repairs) {
      let result: string;
      if (run.dryRun) {
        result = 'dryRun';
      } else if (action === 'createModule') {
        const auth = moduleAuthenticationFor(item.device.authType);
        if (!auth) result = 'needsThumbprint';
        else if (bulk) {
          importLines.push(importLine(item.device.deviceId, moduleId, auth.type, creationBaseline));
          result = 'queuedForImport';
        } else result = await createModule(item.device.deviceId, auth, creationBaseline, services);
      } else {
        result = await applyBaseline(item.device.deviceId, moduleBaseline, services);
      }
      item.repairResults.set(action, result);
      countRepair(counters, action, result);
    }
  });
  if (importLines.length > 0) await (services.imports as ModuleImportJobs).stage(run.sweepId, blockKey, importLines.sort());
}

async function createModule(
  deviceId: string,
  auth: { type: 'sas' } | { type: 'certificateAuthority' },
  patch: JsonObject,
  services: SweepServices,
): Promise<string> {
  const moduleId = services.settings.rules.moduleId;
  try {
    const created = await services.registry.createModule(deviceId, moduleId, auth);
    if (created === 'deviceNotFound') return 'deviceNotFound';
    // Only a module this call created is configured blindly; one that appeared meanwhile belongs to someone else.
    if (created === 'created' && Object.keys(patch).length > 0) await services.registry.updateModuleDesired(deviceId, moduleId, patch, '*');
    return created;
  } catch (error) {
    return repairFailure(error, deviceId, services);
  }
}

async function applyBaseline(deviceId: string, patch: JsonObject, services: SweepServices): Promise<string> {
  try {
    const twin = await services.registry.updateModuleDesired(deviceId, services.settings.rules.moduleId, patch, '*');
    return twin ? 'applied' : 'moduleGone';
  } catch (error) {
    return repairFailure(error, deviceId, services);
  }
}

/** Transient failures propagate (the message is redelivered and the bucket redone); anything else is recorded. */
function repairFailure(error: unknown, deviceId: string, services: SweepServices): string {
  const kind = classifyServiceError(error).kind;
  if (kind === 'throttled' || kind === 'transient') throw error;
  services.logger.warn('sweep repair failed', { deviceId, error: errorMessage(error) });
  return 'failed';
}
