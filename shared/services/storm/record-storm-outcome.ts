/**
 * Puts one deferred creation's outcome on the device's posture: a `provisioning` history entry (partition `import`,
 * at the time the job was seen finished, the sequence number of the device-created event: deterministic, so a
 * redone page rewrites its own row) and the latest posture's provisioning status, written against its etag. The
 * latest row's `updatedAt` is left alone: the outcome is not an event, and moving it would make later events of the
 * device look older than the row.
 */
import { provisioningStep } from '../../domain/posture';
import { IMPORT_HISTORY_PARTITION } from '../../domain/table-keys';
import type { HubEvent, JsonObject, ProvisioningStatus } from '../../domain/types';
import type { PendingProvisioning } from '../../ports/pending-provisioning-store';
import type { PostureStore } from '../../ports/posture-store';

const MAX_LATEST_CONFLICTS = 5;

export async function recordStormOutcome(
  posture: PostureStore,
  row: PendingProvisioning,
  status: ProvisioningStatus,
  detail: JsonObject,
  at: Date,
): Promise<void> {
  const event: HubEvent = {
    kind: 'deviceCreated',
    deviceId: row.deviceId,
    twin: {},
    operationTime: at,
    position: { partitionId: IMPORT_HISTORY_PARTITION, sequenceNumber: row.position.sequenceNumber, offset: '', enqueuedTime: at },
  };
  for (let attempt = 1; ; attempt++) {
    const stored = await posture.getLatest(row.deviceId);
    const step = provisioningStep(stored?.posture, row.deviceId, status, event, { securityModuleId: row.moduleId }, detail);
    if (stored?.posture.deviceDeleted) {
      // Deleted since: the outcome belongs in its history, but must not bring the device back in "latest".
      await posture.appendHistory([step.history]);
      return;
    }
    const latest = { ...step.next, updatedAt: stored?.posture.updatedAt ?? row.position.enqueuedTime.toISOString() };
    const { conflicts } = await posture.commit([{ history: [step.history], latest, etag: stored?.etag }]);
    if (conflicts.length === 0) return;
    if (attempt >= MAX_LATEST_CONFLICTS) {
      throw Object.assign(new Error(`latest posture of ${row.deviceId} kept changing underneath (${attempt} conflicts)`), {
        statusCode: 503,
      });
    }
  }
}
