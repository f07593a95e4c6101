/**
 * The event-driven core end to end over real protocols: devices created with azure-iothub against the
 * emulator, notifications consumed over AMQP with @azure/event-hubs, posture written to Azurite.
 */
import { InvocationContext } from '@azure/functions';
import { makeIotHubEventsHandler } from '../../functions/iothub-events';
import type { BatchReport } from '../../shared/services/process-event-batch';
import { deviceCreatedEvent, hostBatch, moduleCreatedEvent, reportedPatchEvent, telemetryEvent } from '../fixtures/host-batches';
import { eventually } from '../../testing/eventually';
import { startSystem, type System } from '../../testing/start-system';

const MODULE = 'DefenderIotMicroAgent';
const BASELINE = { Process_Mode: 2, Heartbeat_MessageFrequency: 'High' };

async function tableRows(system: System): Promise<unknown> {
  const { TableClient } = await import('@azure/data-tables');
  const rows: Record<string, unknown[]> = {};
  for (const table of ['PostureLatest', 'PostureHistory', 'PostureDeadLetters']) {
    const client = TableClient.fromConnectionString(system.azurite.connectionString, table, { allowInsecureConnection: true });
    rows[table] = [];
    for await (const entity of client.listEntities()) {
      const { etag: _etag, timestamp: _timestamp, RecordedAt: _recordedAt, ...rest } = entity as Record<string, unknown>;
      rows[table].push(rest);
    }
  }
  return rows;
}

describe('event pipeline over the emulator and Azurite', () => {
  let system: System;

  beforeEach(async () => {
    system = await startSystem({ env: { SECURITY_MODULE_BASELINE: JSON.stringify(BASELINE) } });
  });
  afterEach(async () => {
    await system.stop();
  });

  it('device created → module created with the baseline → agent reports → history and latest posture', async () => {
    await system.startConsumer();
    const deviceId = "line-3#cell?7%'b";
    await system.sdkRegistry.create({ deviceId, status: 'enabled' });

    const latest = await eventually(
      async () => {
        const stored = await system.services.posture.getLatest(deviceId);
        return stored?.posture.agentState === 'success' && stored.posture.configurationState === 'inSync' ? stored.posture : undefined;
      },
      20000,
      'the agent to report an in-sync configuration',
    ).catch(async (err: unknown) => {
      console.error(JSON.stringify({ latest: await system.services.posture.getLatest(deviceId), reports: system.reports }, null, 1));
      throw err;
    });

    const twin = await system.sdkRegistry.getModuleTwin(deviceId, MODULE);
    expect(twin.responseBody.properties.desired).toMatchObject(BASELINE);
    expect(latest).toMatchObject({ deviceId, moduleId: MODULE, modulePresent: true, authType: 'sas', provisioning: 'created' });
    const history = await system.services.posture.listHistory(deviceId, { limit: 50 });
    const kinds = history.entries.map((e) => e.kind);
    expect(kinds).toContain('provisioning');
    expect(kinds).toContain('moduleCreated');
    expect(kinds).toContain('reportedChanged');
    // Steady state needs no twin reads: patches are merged over the base carried by the lifecycle event.
    expect(system.reports.reduce((n, r) => n + r.twinReads, 0)).toBe(0);
  });

  it('keeps provisioning through a 429 storm, honouring Retry-After', async () => {
    await system.sdkRegistry.create({ deviceId: 'storm-1', status: 'enabled' });
    system.hub.faults.throttleNext('registry', 3, 1);
    const started = Date.now();
    await system.startConsumer();
    await eventually(
      async () => (await system.services.posture.getLatest('storm-1'))?.posture.modulePresent,
      25000,
      'the module to appear',
    );
    expect((await system.sdkRegistry.getModule('storm-1', MODULE)).responseBody.moduleId).toBe(MODULE);
    // Three throttled registry calls, each answered with Retry-After: 1, cannot all be retried in under 3 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
  });

  it('records a device deleted before provisioning as an outcome', async () => {
    await system.sdkRegistry.create({ deviceId: 'short-lived', status: 'enabled' });
    await system.sdkRegistry.delete('short-lived');
    await system.startConsumer();
    const latest = await eventually(async () => (await system.services.posture.getLatest('short-lived'))?.posture, 15000, 'posture');
    await eventually(
      async () => (await system.services.posture.getLatest('short-lived'))?.posture.deviceDeleted,
      15000,
      'the delete to be recorded',
    );
    expect(latest.modulePresent).toBe(false);
    expect(system.reports.some((r) => r.provisioning.deviceNotFound === 1)).toBe(true);
  });

  it('leaves the tables identical when batches are replayed, keeps poison events as dead letters, and never regresses latest', async () => {
    const handler = makeIotHubEventsHandler(() => Promise.resolve(system.services));
    await system.sdkRegistry.create({ deviceId: 'replay-1', status: 'enabled' });
    const events = [
      deviceCreatedEvent({ deviceId: 'replay-1', authType: 'sas', edge: false }),
      moduleCreatedEvent({ deviceId: 'dev-b', moduleId: MODULE }),
      reportedPatchEvent({ deviceId: 'dev-b', moduleId: MODULE, patch: { latest_state: 'success' }, reportedVersion: 2, twinVersion: 3 }),
      reportedPatchEvent({
        deviceId: 'dev-b',
        moduleId: MODULE,
        patch: { latest_state: 'failed', latest_invalid_fields: ['Process_Mode'] },
        reportedVersion: 3,
        twinVersion: 4,
      }),
      telemetryEvent('dev-b', Buffer.from([0xff, 0x00, 0x13])),
      {
        body: '{"version": 5, "properties":',
        properties: { deviceId: 'dev-b', moduleId: MODULE, opType: 'updateTwin', 'iothub-message-schema': 'twinChangeNotification' },
        systemProperties: { 'iothub-message-source': 'twinChangeEvents', 'iothub-connection-device-id': 'dev-b' },
      },
    ];
    const run = (firstSequenceNumber: number, list = events): Promise<unknown> => {
      const batch = hostBatch(list, { firstSequenceNumber, partitionId: '2' });
      return handler(batch.messages, new InvocationContext({ triggerMetadata: batch.triggerMetadata, logHandler: () => undefined }));
    };
    const first = (await run(500)) as BatchReport;
    expect(first).toMatchObject({ deadLettered: 1, skipped: { telemetry: 1 }, provisioning: { created: 1 } });
    const before = await tableRows(system);
    await run(500);
    expect(await tableRows(system)).toEqual(before);

    // An older version redelivered later (another partition owner's late write) never regresses latest.
    await run(900, [events[2]!]);
    expect((await system.services.posture.getLatest('dev-b'))?.posture).toMatchObject({ agentState: 'failed', reportedVersion: 3 });
  });
});
