/**
 * The registration-storm import step with in-memory adapters: outcomes per device (created, already present with its
 * baseline applied, device gone, job failed or forgotten), rows recorded while a job runs waiting for the next one.
 */
import { MemoryDeviceRegistry } from '../../shared/adapters/memory/memory-device-registry';
import { MemoryModuleImportJobs } from '../../shared/adapters/memory/memory-module-import-jobs';
import { MemoryPendingProvisioningStore } from '../../shared/adapters/memory/memory-pending-provisioning-store';
import { MemoryPostureStore } from '../../shared/adapters/memory/memory-posture-store';
import { silentLogger } from '../../shared/logger';
import type { PendingProvisioning } from '../../shared/ports/pending-provisioning-store';
import { drainRegistrationStorm } from '../../shared/services/storm/drain-registration-storm';
import { DEFAULT_STORM_IMPORT_SETTINGS, type StormServices } from '../../shared/services/storm/storm-services';

const MODULE = 'DefenderIotMicroAgent';
const BASELINE = { Process_Mode: 2 };

function harness() {
  const registry = new MemoryDeviceRegistry();
  const imports = new MemoryModuleImportJobs(registry);
  const pending = new MemoryPendingProvisioningStore();
  const posture = new MemoryPostureStore();
  const services: StormServices = {
    pending,
    imports,
    registry,
    posture,
    settings: {
      securityModuleId: MODULE,
      baseline: BASELINE,
      baselineSchema: 'microAgent',
      provisioningEnabled: true,
      provisionEdgeDevices: false,
      writeConcurrency: 4,
      maxLatestConflicts: 3,
    },
    storm: DEFAULT_STORM_IMPORT_SETTINGS,
    now: () => new Date('2026-12-03T09:00:00Z'),
    logger: silentLogger,
  };
  const row = (deviceId: string, sequenceNumber: number): PendingProvisioning => ({
    deviceId,
    moduleId: MODULE,
    authentication: { type: 'sas' },
    desired: BASELINE,
    position: { partitionId: '1', sequenceNumber, offset: '0', enqueuedTime: new Date('2026-12-03T08:59:00Z') },
  });
  return { registry, imports, pending, posture, services, row };
}

describe('registration storm import step', () => {
  it('records created, already present (configuring it as the per-device path would) and gone devices', async () => {
    const h = harness();
    for (const id of ['new-1', 'mine-1', 'gone-1']) h.registry.addDevice(id);
    await h.registry.createModule('mine-1', MODULE, { type: 'sas' });
    await h.pending.record([h.row('new-1', 1), h.row('mine-1', 2), h.row('gone-1', 3)]);
    h.registry.removeDevice('gone-1');

    const first = await drainRegistrationStorm(h.services);
    expect(first).toMatchObject({ step: 'running', jobsSubmitted: 1, jobId: 'memory-job-1' });
    await h.imports.finish('memory-job-1');
    const second = await drainRegistrationStorm(h.services);
    expect(second).toMatchObject({ step: 'idle', outcomes: { created: 1, alreadyPresent: 1, deviceNotFound: 1 } });

    expect((await h.registry.getModuleTwin('mine-1', MODULE))?.desired).toMatchObject(BASELINE);
    expect((await h.posture.getLatest('new-1'))?.posture).toMatchObject({ provisioning: 'created', modulePresent: true });
    expect((await h.posture.getLatest('mine-1'))?.posture.provisioning).toBe('alreadyPresent');
    const [entry] = (await h.posture.listHistory('mine-1', { limit: 5 })).entries;
    expect(entry).toMatchObject({ kind: 'provisioning', partitionId: 'import', summary: 'provisioning: alreadyPresent' });
    expect(entry?.change).toMatchObject({ via: 'importJob', jobId: 'memory-job-1', baselineApplied: true });
    expect(await h.pending.listClaimed('x', 10)).toEqual([]);
    expect(h.pending.rows.size).toBe(0);
    expect(await h.pending.getJob()).toBeUndefined();
  });

  it('imports a module an automatic configuration targets without the baseline, as the per-device path does', async () => {
    const h = harness();
    for (const id of ['adm-1', 'adm-2', 'plain-1']) h.registry.addDevice(id);
    await h.registry.createModule('adm-2', MODULE, { type: 'sas' });
    h.registry.setConfigurations([
      {
        id: 'defender-fleet',
        priority: 10,
        createdTimeUtc: '2026-12-01T00:00:00Z',
        targetCondition: `FROM devices.modules WHERE moduleId = '${MODULE}' AND deviceId IN ['adm-1', 'adm-2']`,
        content: { moduleContent: { 'properties.desired.Process_Mode': 1 } },
      },
    ]);
    await h.pending.record([h.row('adm-1', 1), h.row('adm-2', 2), h.row('plain-1', 3)]);
    await drainRegistrationStorm(h.services);
    const staged = [...(h.imports.blocks.values().next().value?.values() ?? [])]
      .flat()
      .map((line) => JSON.parse(line) as { id: string; properties?: unknown });
    expect(staged.map((line) => [line.id, line.properties])).toEqual([
      ['adm-1', undefined],
      ['adm-2', undefined],
      ['plain-1', { desired: BASELINE }],
    ]);
    await h.imports.finish('memory-job-1');
    await drainRegistrationStorm(h.services);
    expect((await h.posture.listHistory('adm-1', { limit: 1 })).entries[0]?.change).toMatchObject({
      baselineApplied: false,
      managedBy: 'defender-fleet',
    });
    expect((await h.posture.listHistory('adm-2', { limit: 1 })).entries[0]?.change).toMatchObject({ managedBy: 'defender-fleet' });
    expect((await h.registry.getModuleTwin('adm-2', MODULE))?.desired).not.toMatchObject(BASELINE);
    expect((await h.posture.listHistory('plain-1', { limit: 1 })).entries[0]?.change).toMatchObject({ baselineApplied: true });
  });

  it.each([
    ['failed', 'blob not readable', 'import job failed: blob not readable'],
    ['forgotten', undefined, 'import job failed: the hub no longer knows import job memory-job-1'],
  ])('a %s job gives every device importFailed with the reason', async (kind, reason, error) => {
    const h = harness();
    for (const id of ['a-1', 'a-2']) h.registry.addDevice(id);
    await h.pending.record([h.row('a-1', 1), h.row('a-2', 2)]);
    await drainRegistrationStorm(h.services);
    if (kind === 'failed') await h.imports.finish('memory-job-1', reason);
    else h.imports.jobs.delete('memory-job-1');
    expect(await drainRegistrationStorm(h.services)).toMatchObject({ step: 'idle', outcomes: { importFailed: 2 } });
    const [entry] = (await h.posture.listHistory('a-2', { limit: 5 })).entries;
    expect(entry?.change).toMatchObject({ error });
    expect((await h.posture.getLatest('a-2'))?.posture).toMatchObject({ provisioning: 'importFailed', modulePresent: false });
  });

  it('stages each row once; rows recorded while a job runs go to the next job', async () => {
    const h = harness();
    for (const id of ['early-1', 'early-2', 'late-1']) h.registry.addDevice(id);
    await h.pending.record([h.row('early-1', 1), h.row('early-2', 2)]);
    await drainRegistrationStorm(h.services);
    await h.pending.record([h.row('late-1', 3)]);
    expect((await drainRegistrationStorm(h.services)).step).toBe('running');
    await h.imports.finish('memory-job-1');
    const report = await drainRegistrationStorm(h.services);
    expect(report).toMatchObject({ step: 'running', jobsSubmitted: 1, outcomes: { created: 2 }, jobId: 'memory-job-2' });
    const lines = (key: string) =>
      [...(h.imports.blocks.get(key)?.values() ?? [])].flat().map((line) => (JSON.parse(line) as { id: string }).id);
    const [firstKey, secondKey] = [...h.imports.jobs.values()].map((job) => job.key);
    expect([lines(firstKey!), lines(secondKey!)]).toEqual([['early-1', 'early-2'], ['late-1']]);
    await h.imports.finish('memory-job-2');
    expect(await drainRegistrationStorm(h.services)).toMatchObject({ step: 'idle', outcomes: { created: 1 } });
  });
});
