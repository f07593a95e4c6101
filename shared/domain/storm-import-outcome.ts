/**
 * What a finished registration-storm import job means for one device's provisioning, pure: the sweep's reading of
 * the job (shared/domain/import-outcome.ts: a device named in `importErrors.log` failed with that line's error, the
 * others were created) mapped onto the event path's provisioning outcomes. A `create` line for a module that exists
 * already is rejected with ModuleAlreadyExistsOnDevice (409301), one for a device that is gone with DeviceNotFound
 * (404001): those are the per-device path's `alreadyPresent` and `deviceNotFound`, not failures.
 */
import { importOutcome, type FinishedImport } from './import-outcome';
import type { ProvisioningStatus } from './types';

export interface StormImportOutcome {
  status: Extract<ProvisioningStatus, 'created' | 'alreadyPresent' | 'deviceNotFound' | 'importFailed'>;
  error?: string;
}

/** Error codes as names or IoT Hub's numeric codes (the log may carry either: shared/adapters/iothub-import-jobs.ts). */
const ALREADY_PRESENT = /^(ModuleAlreadyExistsOnDevice|409301)\b/;
const DEVICE_GONE = /^(DeviceNotFound|404001)\b/;

export function stormImportOutcome(deviceId: string, job: FinishedImport): StormImportOutcome {
  const outcome = importOutcome(deviceId, job);
  if (outcome.repairResult === 'created') return { status: 'created' };
  const error = outcome.repairError ?? 'import job rejected the line';
  if (outcome.repairResult === 'failed' && !job.jobFailed) {
    if (ALREADY_PRESENT.test(error)) return { status: 'alreadyPresent' };
    if (DEVICE_GONE.test(error)) return { status: 'deviceNotFound' };
  }
  return { status: 'importFailed', error };
}
