/**
 * Storm mode on the event path with in-memory adapters: a batch with more device creations than the threshold records
 * them as pending rows (no registry call per device) and still records every other device's twin changes; a batch at
 * the threshold is provisioned per device exactly as before; a replay changes nothing.
 */
import { InvocationContext } from '@azure/functions';
import { makeIotHubEventsHandler } from '../../functions/iothub-events';
import { MemoryDeadLetterStore } from '../../shared/adapters/memory/memory-dead-letter-store';
import { MemoryDeviceRegistry } from '../../shared/adapters/memory/memory-device-registry';
import { MemoryPendingProvisioningStore } from '../../shared/adapters/memory/memory-pending-provisioning-store';
import { MemoryPostureStore } from '../../shared/adapters/memory/memory-posture-store';
import type { EventServices } from '../../shared/composition/event-services';
import { parseCondition } from '../../shared/domain/iothub-query/twin-condition';
import type { ProcessingSettings } from '../../shared/services/settings';
import { deviceCreatedEvent, hostBatch, reportedPatchEvent, type HostEventInput } from '../fixtures/host-batches';

const MODULE = 'DefenderIotMicroAgent';
const BASELINE = { Process_Mode: 2 };

function harness(threshold: number | undefined, overrides: Partial<ProcessingSettings> = {}) {
  const registry = new MemoryDeviceRegistry();
  const posture = new MemoryPostureStore();
  const pending = new MemoryPendingProvisioningStore();
  const services: EventServices = {
    registry,
    posture,
    deadLetters: new MemoryDeadLetterStore(),
    now: () => new Date('2026-12-03T08:00:00Z'),
    settings: {
      securityModuleId: MODULE,
      baseline: BASELINE,
      baselineSchema: 'microAgent',
      provisioningEnabled: true,
      provisionEdgeDevices: false,
      writeConcurrency: 4,
      maxLatestConflicts: 3,
      ...overrides,
    },
    storm: { threshold, pending },
  };
  const handler = makeIotHubEventsHandler(() => Promise.resolve(services));
  const run = (events: HostEventInput[], firstSequenceNumber = 1000) => {
    const batch = hostBatch(events, { firstSequenceNumber, dataType: 'binary' });
    return handler(
      batch.messages,
      new InvocationContext({ functionName: 'iothub-events', triggerMetadata: batch.triggerMetadata, logHandler: () => undefined }),
    );
  };
  return { registry, posture, pending, run };
}

const sas = (deviceId: string, tags?: Record<string, unknown>) => deviceCreatedEvent({ deviceId, authType: 'sas', edge: false, tags });

describe('storm mode on the event path', () => {
  it('defers a storm of creations to pending rows without registry calls, deciding Edge and self-signed devices at once', async () => {
    const h = harness(3);
    h.registry.addDevice('busy-1');
    await h.registry.createModule('busy-1', MODULE, { type: 'sas' });
    h.registry.setReported('busy-1', MODULE, { latest_state: 'success' });
    const events = [
      sas('new-1'),
      sas('new-2'),
      deviceCreatedEvent({ deviceId: 'edge-1', authType: 'sas', edge: true }),
      deviceCreatedEvent({ deviceId: 'x509-1', authType: 'selfSigned', edge: false }),
      deviceCreatedEvent({ deviceId: 'ca-1', authType: 'certificateAuthority', edge: false }),
      deviceCreatedEvent({ deviceId: 'minimal-1' }),
      reportedPatchEvent({ deviceId: 'busy-1', moduleId: MODULE, patch: { latest_state: 'success' }, reportedVersion: 2, twinVersion: 3 }),
    ];
    const callsBefore = { ...h.registry.calls };
    const report = await h.run(events);

    // No provisioning call (busy-1's unknown base costs its usual twin read).
    expect({ ...h.registry.calls, getModuleTwin: 0 }).toEqual({ ...callsBefore, getModuleTwin: 0 });
    expect(report.provisioning).toEqual({ queuedForImport: 4, skippedEdge: 1, needsThumbprint: 1 });
    const rows = await h.pending.listUnclaimed(100);
    expect(rows.map((row) => [row.deviceId, row.authentication?.type, row.desired])).toEqual([
      ['ca-1', 'certificateAuthority', BASELINE],
      ['minimal-1', undefined, BASELINE],
      ['new-1', 'sas', BASELINE],
      ['new-2', 'sas', BASELINE],
    ]);
    expect((await h.posture.getLatest('new-1'))?.posture).toMatchObject({ provisioning: 'queuedForImport', modulePresent: false });
    expect((await h.posture.getLatest('edge-1'))?.posture.provisioning).toBe('skippedEdge');
    // The other device's twin change is recorded in the same batch: the partition keeps flowing.
    expect((await h.posture.getLatest('busy-1'))?.posture.agentState).toBe('success');

    // A replay (the checkpoint did not move) finds its rows and its posture: nothing is added or changed.
    const before = JSON.stringify([await h.pending.listUnclaimed(100), (await h.posture.listHistory('new-1', { limit: 10 })).entries]);
    await h.run(events);
    expect(JSON.stringify([await h.pending.listUnclaimed(100), (await h.posture.listHistory('new-1', { limit: 10 })).entries])).toBe(
      before,
    );
  });

  it('applies the target condition on the notification twin before deferring', async () => {
    const h = harness(1, { targetCondition: parseCondition("tags.environment = 'prod'") });
    await h.run([sas('prod-1', { environment: 'prod' }), sas('lab-1', { environment: 'lab' })]);
    expect((await h.pending.listUnclaimed(10)).map((row) => row.deviceId)).toEqual(['prod-1']);
    expect((await h.posture.getLatest('lab-1'))?.posture.provisioning).toBe('skippedByCondition');
  });

  it('provisions per device when a batch has no more creations than the threshold, or when storm mode is off', async () => {
    for (const h of [harness(2), harness(undefined)]) {
      for (const id of ['a-1', 'a-2']) h.registry.addDevice(id);
      const report = await h.run([sas('a-1'), sas('a-2')]);
      expect(report.provisioning).toEqual({ created: 2 });
      expect(await h.pending.listUnclaimed(10)).toEqual([]);
      expect((await h.registry.getModuleTwin('a-2', MODULE))?.desired).toMatchObject(BASELINE);
    }
  });
});
