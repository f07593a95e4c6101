/**
 * Registration storms end to end over real protocols: devices registered in bulk with azure-iothub against the
 * emulator, their notifications consumed over AMQP, pending rows and posture in Azurite tables, and the modules
 * created by one IoT Hub import job that reads its staged blob from Azurite — including an invocation that dies
 * between creating the job and recording it, another import job holding the hub's one slot, and replays.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { IotHubModuleImportJobs } from '../../shared/adapters/iothub-import-jobs';
import { stormServicesOf } from '../../shared/composition/storm-services-of';
import type { EventPosition } from '../../shared/domain/types';
import { silentLogger } from '../../shared/logger';
import type { ModuleImportJobs } from '../../shared/ports/module-import-jobs';
import type { PendingProvisioning } from '../../shared/ports/pending-provisioning-store';
import { drainRegistrationStorm, type StormDrainReport } from '../../shared/services/storm/drain-registration-storm';
import { DEFAULT_STORM_IMPORT_SETTINGS, type StormServices } from '../../shared/services/storm/storm-services';
import { importLine } from '../../shared/services/sweep/repair-bucket';
import { eventually } from '../../testing/eventually';
import { startSystem, type System } from '../../testing/start-system';
import { sweepHarness } from '../../testing/sweep-harness';

const MODULE = 'DefenderIotMicroAgent';
const BASELINE = { Process_Mode: 2, Heartbeat_MessageFrequency: 'High' };
const pad = (i: number) => String(i).padStart(2, '0');

function stormServices(system: System, overrides: Partial<StormServices> = {}): StormServices {
  return {
    ...stormServicesOf(system.graph),
    storm: { ...DEFAULT_STORM_IMPORT_SETTINGS, submitLeaseMs: 60_000, timeBudgetMs: 20_000 },
    logger: silentLogger,
    ...overrides,
  };
}

/** Runs the timer's step until nothing is pending, as the timer would every few seconds. */
async function drainUntilIdle(services: StormServices): Promise<StormDrainReport[]> {
  const reports: StormDrainReport[] = [];
  await eventually(
    async () => {
      const report = await drainRegistrationStorm(services);
      reports.push(report);
      return report.step === 'idle';
    },
    30_000,
    'the storm import to finish',
    100,
  );
  return reports;
}

async function importJobIds(system: System): Promise<string[]> {
  const jobs = (await system.sdkRegistry.listJobs()).responseBody as Array<{ jobId: string; type: string }>;
  return jobs.filter((job) => job.type === 'import').map((job) => job.jobId);
}

function desiredOf(system: System, deviceId: string): unknown {
  return (system.hub.registry.findTwin(deviceId, MODULE)?.properties as { desired?: unknown } | undefined)?.desired;
}

function position(sequenceNumber: number): EventPosition {
  return {
    partitionId: '0',
    sequenceNumber,
    offset: String(sequenceNumber),
    enqueuedTime: new Date(Date.UTC(2026, 11, 3, 8, 0, 0) + sequenceNumber),
  };
}

describe('registration storms over the emulator and Azurite', () => {
  let system: System;

  beforeEach(async () => {
    // Threshold 0: every batch with a creation is a storm. The consumer's first receive may hand over a single event,
    // which a real threshold would (rightly) provision per device; below-threshold batches are covered by the handler test.
    system = await startSystem({ env: { SECURITY_MODULE_BASELINE: JSON.stringify(BASELINE), REGISTRATION_STORM_THRESHOLD: '0' } });
  });
  afterEach(async () => {
    await system.stop();
  });

  it('defers a bulk registration to one import job while other twin changes flow, then records every outcome', async () => {
    const hub = system.hub;
    hub.registry.createDevice({ deviceId: 'steady-1', authentication: { type: 'sas' } }, { notify: false });
    hub.registry.createModule({ deviceId: 'steady-1', moduleId: MODULE, authentication: { type: 'sas' } }, { notify: false });
    const storm = Array.from({ length: 40 }, (_, i) => `storm-${pad(i)}`);
    await system.sdkRegistry.addDevices([
      ...storm.map((deviceId) => ({ deviceId, status: 'enabled' })),
      { deviceId: 'edge-1', status: 'enabled', capabilities: { iotEdge: true } },
      {
        deviceId: 'x509-1',
        status: 'enabled',
        authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: 'A'.repeat(40), secondaryThumbprint: 'B'.repeat(40) } },
      },
    ]);
    hub.devices.setReported('steady-1', { latest_state: 'success' }, MODULE);
    await system.startConsumer({ maxBatchSize: 100 });

    const pending = system.graph.pendingProvisioning;
    await eventually(async () => (await pending.listUnclaimed(100)).length === 40, 20_000, '40 pending module creations');
    await eventually(
      async () => (await system.services.posture.getLatest('steady-1'))?.posture.agentState === 'success',
      10_000,
      'steady-1',
    );
    expect((await system.services.posture.getLatest('storm-05'))?.posture.provisioning).toBe('queuedForImport');
    await eventually(
      async () => (await system.services.posture.getLatest('edge-1'))?.posture.provisioning === 'skippedEdge',
      10_000,
      'edge-1',
    );
    await eventually(
      async () => (await system.services.posture.getLatest('x509-1'))?.posture.provisioning === 'needsThumbprint',
      10_000,
      'x509-1',
    );
    // Nothing was created per device while the storm was recorded.
    expect(storm.filter((deviceId) => hub.registry.findTwin(deviceId, MODULE) !== undefined)).toEqual([]);
    await system.sdkRegistry.delete('storm-07');
    await eventually(async () => (await system.services.posture.getLatest('storm-07'))?.posture.deviceDeleted, 10_000, 'storm-07 deleted');

    const services = stormServices(system);
    const reports = await drainUntilIdle(services);
    expect(reports.reduce((sum, r) => sum + r.jobsSubmitted, 0)).toBe(1);
    expect(await importJobIds(system)).toHaveLength(1);
    const outcomes = reports.reduce<Record<string, number>>((sum, r) => {
      for (const [key, n] of Object.entries(r.outcomes)) sum[key] = (sum[key] ?? 0) + n;
      return sum;
    }, {});
    expect(outcomes).toEqual({ created: 39, deviceNotFound: 1 });
    expect(storm.filter((deviceId) => deviceId !== 'storm-07' && hub.registry.findTwin(deviceId, MODULE) === undefined)).toEqual([]);
    expect((await system.sdkRegistry.getModuleTwin('storm-31', MODULE)).responseBody.properties.desired).toMatchObject(BASELINE);

    await eventually(async () => (await system.services.posture.getLatest('storm-31'))?.posture.modulePresent, 10_000, 'storm-31 module');
    expect((await system.services.posture.getLatest('storm-31'))?.posture.provisioning).toBe('created');
    const history = (await system.services.posture.listHistory('storm-31', { limit: 50 })).entries;
    expect(history.filter((e) => e.kind === 'provisioning').map((e) => [e.summary, e.partitionId])).toEqual([
      ['provisioning: created', 'import'],
      ['provisioning: queuedForImport', expect.stringMatching(/^\d+$/)],
    ]);
    const gone = (await system.services.posture.listHistory('storm-07', { limit: 50 })).entries;
    expect(gone.map((e) => e.summary)).toContain('provisioning: deviceNotFound');
    expect((await system.services.posture.getLatest('storm-07'))?.posture.deviceDeleted).toBe(true);

    // Everything recorded is gone from the table; another step (a timer on a second host) finds nothing to do.
    expect(await pending.listUnclaimed(10)).toEqual([]);
    expect(await pending.getJob()).toBeUndefined();
    expect((await drainRegistrationStorm(services)).step).toBe('idle');
    expect(await importJobIds(system)).toHaveLength(1);
  });

  it('resumes after a crash between creating the job and recording it: adopts the job, never creates a second', async () => {
    const hub = system.hub;
    const rows: PendingProvisioning[] = [];
    for (let i = 0; i < 12; i++) {
      hub.registry.createDevice({ deviceId: `crash-${pad(i)}`, authentication: { type: 'sas' } }, { notify: false });
      rows.push({
        deviceId: `crash-${pad(i)}`,
        moduleId: MODULE,
        authentication: { type: 'sas' },
        desired: BASELINE,
        position: position(i),
      });
    }
    // Two rows whose notification lacked the device's facts: looked up with one query.
    hub.registry.createDevice(
      { deviceId: 'bare-edge', capabilities: { iotEdge: true }, authentication: { type: 'sas' } },
      { notify: false },
    );
    hub.registry.createDevice({ deviceId: 'bare-ca', authentication: { type: 'certificateAuthority' } }, { notify: false });
    rows.push({ deviceId: 'bare-edge', moduleId: MODULE, desired: BASELINE, position: position(20) });
    rows.push({ deviceId: 'bare-ca', moduleId: MODULE, desired: BASELINE, position: position(21) });
    const pending = system.graph.pendingProvisioning;
    await pending.record(rows);
    await pending.record(rows); // a replayed batch: insert-only, nothing doubles
    expect(await pending.listUnclaimed(100)).toHaveLength(14);

    const real = stormServicesOf(system.graph).imports as ModuleImportJobs;
    const dying: ModuleImportJobs = {
      stage: (key, block, lines) => real.stage(key, block, lines),
      start: async (key) => {
        await real.start(key);
        throw new Error('the worker died right after the hub accepted the job');
      },
      status: (key, jobId) => real.status(key, jobId),
      findJob: (key) => real.findJob(key),
    };
    await expect(drainRegistrationStorm(stormServices(system, { imports: dying }))).rejects.toThrow('worker died');
    expect((await pending.getJob())?.value.phase).toBe('submitting');
    expect(await importJobIds(system)).toHaveLength(1);

    // Within the lease another instance leaves the job alone; past it (a later clock) the job is adopted.
    expect((await drainRegistrationStorm(stormServices(system))).step).toBe('busy');
    const later = () => new Date(Date.now() + 120_000);
    const reports = await drainUntilIdle(stormServices(system, { now: later }));
    expect(reports.reduce((sum, r) => [sum[0]! + r.jobsSubmitted, sum[1]! + r.jobsAdopted], [0, 0])).toEqual([0, 1]);
    expect(await importJobIds(system)).toHaveLength(1);
    expect(desiredOf(system, 'crash-11')).toMatchObject(BASELINE);
    expect(hub.registry.findTwin('bare-ca', MODULE)).toBeDefined();
    expect(hub.registry.findTwin('bare-edge', MODULE)).toBeUndefined();
    expect((await system.services.posture.getLatest('crash-03'))?.posture.provisioning).toBe('created');
    expect((await system.services.posture.getLatest('bare-edge'))?.posture.provisioning).toBe('skippedEdge');
    expect((await system.services.posture.getLatest('bare-ca'))?.posture).toMatchObject({ provisioning: 'created' });
  });

  it("waits while another import job holds the hub's one slot, failing no device, then imports", async () => {
    const hub = system.hub;
    const rows: PendingProvisioning[] = [];
    for (let i = 0; i < 5; i++) {
      hub.registry.createDevice({ deviceId: `wait-${i}`, authentication: { type: 'sas' } }, { notify: false });
      rows.push({ deviceId: `wait-${i}`, moduleId: MODULE, authentication: { type: 'sas' }, desired: BASELINE, position: position(i) });
    }
    hub.registry.createDevice({ deviceId: 'sweep-1', authentication: { type: 'sas' } }, { notify: false });
    await system.graph.pendingProvisioning.record(rows);
    // The sweep's import job, paced to stay queued for a while.
    hub.faults.setImportJobPacing({ startDelayMs: 1500, linesPerSecond: 100 });
    const sweepJobs = new IotHubModuleImportJobs(
      BlobServiceClient.fromConnectionString(system.azurite.connectionString),
      system.sdkRegistry,
      {
        containerPrefix: 'sweep-import',
        retryBudgetMs: 5000,
      },
    );
    await sweepJobs.stage('sw-1', 'b000000', [importLine('sweep-1', MODULE, 'sas', BASELINE)]);
    await sweepJobs.start('sw-1');
    hub.faults.setImportJobPacing(null);

    const services = stormServices(system);
    expect((await drainRegistrationStorm(services)).step).toBe('waitingForQuota');
    expect((await system.graph.pendingProvisioning.getJob())?.value.phase).toBe('submitting');
    const reports = await drainUntilIdle(services);
    expect(reports.reduce((sum, r) => sum + (r.outcomes['created'] ?? 0), 0)).toBe(5);
    expect(await importJobIds(system)).toHaveLength(2);
    expect(desiredOf(system, 'wait-4')).toMatchObject(BASELINE);
  });

  it("the sweep's bulk import waits for a storm's job instead of failing its run", async () => {
    const hub = system.hub;
    for (let i = 0; i < 4; i++) hub.registry.createDevice({ deviceId: `backlog-${i}`, authentication: { type: 'sas' } }, { notify: false });
    hub.registry.createDevice({ deviceId: 'stormy-1', authentication: { type: 'sas' } }, { notify: false });
    const row = {
      deviceId: 'stormy-1',
      moduleId: MODULE,
      authentication: { type: 'sas' as const },
      desired: BASELINE,
      position: position(1),
    };
    await system.graph.pendingProvisioning.record([row]);
    hub.faults.setImportJobPacing({ startDelayMs: 800, linesPerSecond: 100 });
    const storm = stormServices(system);
    expect((await drainRegistrationStorm(storm)).step).toBe('running');
    hub.faults.setImportJobPacing(null);

    const h = sweepHarness(hub, {
      settings: {
        rules: {
          moduleId: MODULE,
          schema: 'microAgent',
          baseline: BASELINE,
          staleAgentHours: 24,
          inactiveModuleHours: 72,
          requiredModuleAuth: 'any',
        },
        bulkImportThreshold: 1,
        shards: 1,
        importPollSeconds: 1,
      },
      imports: stormServicesOf(system.graph).imports,
    });
    try {
      const run = await h.sweep({ sweepId: 'sw-during-storm' });
      expect(run.status).toBe('completed');
      // Its job came after the storm's (stormy-1's line may then be rejected as already present: the storm created it).
      expect(run.summary?.importJob).toMatchObject({ status: 'completed' });
    } finally {
      h.close();
    }
    expect(desiredOf(system, 'backlog-3')).toMatchObject(BASELINE);
    await drainUntilIdle(storm);
    expect(desiredOf(system, 'stormy-1')).toMatchObject(BASELINE);
    expect(await importJobIds(system)).toHaveLength(2);
  });
});
