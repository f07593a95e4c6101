import { HttpRequest, InvocationContext } from '@azure/functions';
import { makeDevicePostureHandler } from '../../functions/device-posture';
import { makeIotHubEventsHandler } from '../../functions/iothub-events';
import { MemoryDeadLetterStore } from '../../shared/adapters/memory/memory-dead-letter-store';
import { MemoryDeviceRegistry } from '../../shared/adapters/memory/memory-device-registry';
import { MemoryPostureStore } from '../../shared/adapters/memory/memory-posture-store';
import type { EventServices } from '../../shared/composition/event-services';
import { parseCondition } from '../../shared/domain/iothub-query/twin-condition';
import { seededRandom } from '../../shared/domain/seeded-random';
import { TransientError } from '../../shared/errors';
import type { ProcessingSettings } from '../../shared/services/settings';
import {
  deviceCreatedEvent,
  deviceDeletedEvent,
  hostBatch,
  moduleCreatedEvent,
  reportedPatchEvent,
  telemetryEvent,
  type HostEventInput,
} from '../fixtures/host-batches';

const MODULE = 'DefenderIotMicroAgent';
const BASELINE = { Process_Mode: 2, Login_Disabled: false };

interface Harness {
  registry: MemoryDeviceRegistry;
  posture: MemoryPostureStore;
  deadLetters: MemoryDeadLetterStore;
  logs: string[];
  run(events: HostEventInput[], firstSequenceNumber?: number): Promise<unknown>;
}

function harness(overrides: Partial<ProcessingSettings> = {}): Harness {
  const registry = new MemoryDeviceRegistry();
  const posture = new MemoryPostureStore();
  const deadLetters = new MemoryDeadLetterStore();
  const logs: string[] = [];
  const services: EventServices = {
    registry,
    posture,
    deadLetters,
    now: () => new Date('2024-05-01T12:30:00Z'),
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
  };
  const handler = makeIotHubEventsHandler(() => Promise.resolve(services));
  return {
    registry,
    posture,
    deadLetters,
    logs,
    run: (events, firstSequenceNumber = 1000) => {
      // dataType 'binary', as functions/iothub-events.ts registers it: one Buffer per event.
      const batch = hostBatch(events, { firstSequenceNumber, dataType: 'binary' });
      const context = new InvocationContext({
        functionName: 'iothub-events',
        triggerMetadata: batch.triggerMetadata,
        logHandler: (_level, ...args) => logs.push(args.map(String).join(' ')),
      });
      return handler(batch.messages, context);
    },
  };
}

async function snapshot(h: Harness, deviceIds: string[]): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const id of deviceIds) {
    out[id] = {
      latest: (await h.posture.getLatest(id))?.posture,
      history: (await h.posture.listHistory(id, { limit: 1000 })).entries,
    };
  }
  return { devices: out, deadLetters: h.deadLetters.all().map((d) => ({ ...d, recordedAt: undefined })) };
}

describe('iothub-events handler', () => {
  it('creates the security module with the baseline for a new SAS device and records it', async () => {
    const h = harness();
    h.registry.addDevice('dev-1');
    const report = await h.run([deviceCreatedEvent({ deviceId: 'dev-1', authType: 'sas', edge: false })]);

    const twin = await h.registry.getModuleTwin('dev-1', MODULE);
    expect(twin?.desired).toMatchObject(BASELINE);
    expect(twin?.authType).toBe('sas');
    expect(report).toMatchObject({ received: 1, provisioning: { created: 1 }, historyEntries: 1 });
    const latest = await h.posture.getLatest('dev-1');
    expect(latest?.posture.provisioning).toBe('created');
    const history = await h.posture.listHistory('dev-1', { limit: 10 });
    expect(history.entries.map((e) => e.kind)).toEqual(['provisioning']);
  });

  it('follows the device: CA-signed gets a CA module, self-signed is recorded as needing a thumbprint, Edge is skipped', async () => {
    const h = harness();
    h.registry.addDevice('ca', { authType: 'certificateAuthority' });
    h.registry.addDevice('self', { authType: 'selfSigned' });
    h.registry.addDevice('edge', { iotEdge: true });
    await h.run([
      deviceCreatedEvent({ deviceId: 'ca' }),
      deviceCreatedEvent({ deviceId: 'self' }),
      deviceCreatedEvent({ deviceId: 'edge' }),
    ]);
    expect((await h.registry.getModule('ca', MODULE))?.authType).toBe('certificateAuthority');
    expect(await h.registry.getModule('self', MODULE)).toBeUndefined();
    expect(await h.registry.getModule('edge', MODULE)).toBeUndefined();
    expect((await h.posture.getLatest('self'))?.posture.provisioning).toBe('needsThumbprint');
    expect((await h.posture.getLatest('edge'))?.posture.provisioning).toBe('skippedEdge');
  });

  it('limits provisioning to devices matching the target condition, evaluated on the lifecycle body', async () => {
    const h = harness({ targetCondition: parseCondition("tags.environment = 'prod'") });
    h.registry.addDevice('prod-1');
    h.registry.addDevice('dev-1');
    await h.run([
      deviceCreatedEvent({ deviceId: 'prod-1', tags: { environment: 'prod' }, authType: 'sas', edge: false }),
      deviceCreatedEvent({ deviceId: 'dev-1', tags: { environment: 'dev' }, authType: 'sas', edge: false }),
    ]);
    expect(await h.registry.getModule('prod-1', MODULE)).toBeDefined();
    expect(await h.registry.getModule('dev-1', MODULE)).toBeUndefined();
    expect((await h.posture.getLatest('dev-1'))?.posture.provisioning).toBe('skippedByCondition');
  });

  it('records a device deleted before provisioning as an outcome, not an error', async () => {
    const h = harness();
    const report = await h.run([deviceCreatedEvent({ deviceId: 'gone' })]);
    expect(report).toMatchObject({ provisioning: { deviceNotFound: 1 } });
  });

  it('turns module creation and agent reports into history and latest posture', async () => {
    const h = harness();
    await h.run([
      moduleCreatedEvent({ deviceId: 'd1', moduleId: MODULE }),
      reportedPatchEvent({
        deviceId: 'd1',
        moduleId: MODULE,
        patch: { latest_state: 'success', latest_invalid_fields: [] },
        reportedVersion: 2,
        twinVersion: 3,
      }),
      reportedPatchEvent({
        deviceId: 'd1',
        moduleId: MODULE,
        patch: { latest_state: 'failed', latest_invalid_fields: ['Process_Mode'] },
        reportedVersion: 3,
        twinVersion: 4,
      }),
    ]);
    const latest = (await h.posture.getLatest('d1'))?.posture;
    expect(latest).toMatchObject({ modulePresent: true, agentState: 'failed', invalidFields: ['Process_Mode'], reportedVersion: 3 });
    const kinds = (await h.posture.listHistory('d1', { limit: 10 })).entries.map((e) => e.kind);
    expect(kinds).toEqual(['reportedChanged', 'reportedChanged', 'moduleCreated']);
    expect(h.registry.calls.getModuleTwin).toBe(0);
  });

  it('leaves the tables identical when the same batch is delivered twice', async () => {
    const h = harness();
    h.registry.addDevice("odd#?%'id");
    const events = [
      deviceCreatedEvent({ deviceId: "odd#?%'id", authType: 'sas', edge: false }),
      moduleCreatedEvent({ deviceId: 'd2', moduleId: MODULE }),
      reportedPatchEvent({ deviceId: 'd2', moduleId: MODULE, patch: { latest_state: 'success' }, reportedVersion: 2, twinVersion: 3 }),
      {
        body: '{not json',
        properties: { deviceId: 'd3', opType: 'updateTwin', 'iothub-message-schema': 'twinChangeNotification', moduleId: MODULE },
        systemProperties: { 'iothub-message-source': 'twinChangeEvents', 'iothub-connection-device-id': 'd3' },
      },
    ];
    await h.run(events);
    const first = await snapshot(h, ["odd#?%'id", 'd2']);
    const creates = h.registry.calls.createModule;
    await h.run(events);
    expect(await snapshot(h, ["odd#?%'id", 'd2'])).toEqual(first);
    expect(h.registry.calls.createModule).toBe(creates);
  });

  it('never regresses latest when an older version arrives after a newer one', async () => {
    const h = harness();
    await h.run([
      moduleCreatedEvent({ deviceId: 'd1', moduleId: MODULE }),
      reportedPatchEvent({ deviceId: 'd1', moduleId: MODULE, patch: { latest_state: 'success' }, reportedVersion: 2, twinVersion: 3 }),
      reportedPatchEvent({ deviceId: 'd1', moduleId: MODULE, patch: { latest_state: 'failed' }, reportedVersion: 3, twinVersion: 4 }),
    ]);
    await h.run(
      [reportedPatchEvent({ deviceId: 'd1', moduleId: MODULE, patch: { latest_state: 'success' }, reportedVersion: 2, twinVersion: 3 })],
      2000,
    );
    expect((await h.posture.getLatest('d1'))?.posture).toMatchObject({ agentState: 'failed', reportedVersion: 3 });
  });

  it('reads the module twin once when a patch arrives over an unknown base', async () => {
    const h = harness();
    h.registry.addDevice('d1');
    await h.registry.createModule('d1', MODULE, { type: 'sas' });
    h.registry.setReported('d1', MODULE, { latest_state: 'success', Process_Mode: 1 });
    await h.run([reportedPatchEvent({ deviceId: 'd1', moduleId: MODULE, patch: { Process_Mode: 1 }, reportedVersion: 2, twinVersion: 3 })]);
    expect(h.registry.calls.getModuleTwin).toBe(1);
    expect((await h.posture.getLatest('d1'))?.posture.reported).toMatchObject({ latest_state: 'success', Process_Mode: 1 });
  });

  it('dead-letters poison events and processes the good ones in the same batch; telemetry is skipped', async () => {
    const h = harness();
    const report = await h.run([
      telemetryEvent('d9', 'temperature=21;not json'),
      telemetryEvent('d9', { temperature: 21 }),
      {
        body: '{"deviceId": "broken"',
        properties: { deviceId: 'broken', opType: 'createDeviceIdentity', 'iothub-message-schema': 'deviceLifecycleNotification' },
        systemProperties: { 'iothub-message-source': 'deviceLifecycleEvents', 'iothub-connection-device-id': 'broken' },
      },
      moduleCreatedEvent({ deviceId: 'good', moduleId: MODULE }),
      deviceDeletedEvent({ deviceId: 'bye' }),
    ]);
    expect(report).toMatchObject({ received: 5, skipped: { telemetry: 2 }, deadLettered: 1 });
    const [letter] = h.deadLetters.all();
    expect(letter).toMatchObject({ deviceId: 'broken', raw: '{"deviceId": "broken"' });
    expect(letter?.reason).toMatch(/JSON/i);
    expect((await h.posture.getLatest('good'))?.posture.modulePresent).toBe(true);
    expect((await h.posture.getLatest('bye'))?.posture.deviceDeleted).toBe(true);
  });

  it('fails the invocation when the registry keeps throttling, and succeeds on redelivery', async () => {
    const h = harness();
    h.registry.addDevice('d1');
    h.registry.failNext('getModule', new TransientError('throttled', { statusCode: 429 }), 1);
    const events = [
      deviceCreatedEvent({ deviceId: 'd1', authType: 'sas', edge: false }),
      moduleCreatedEvent({ deviceId: 'other', moduleId: MODULE }),
    ];
    await expect(h.run(events)).rejects.toThrow(/transient/);
    // The unaffected device was processed; the throttled one was not recorded as provisioned.
    expect((await h.posture.getLatest('other'))?.posture.modulePresent).toBe(true);
    expect(await h.posture.getLatest('d1')).toBeUndefined();
    await h.run(events);
    expect(await h.registry.getModule('d1', MODULE)).toBeDefined();
    expect((await h.posture.getLatest('d1'))?.posture.provisioning).toBe('created');
  });

  it('keeps reported properties named __proto__, constructor and prototype in the stored posture and the API answer', async () => {
    const h = harness();
    // As IoT Hub sends it: JSON text, which the pipeline parses into own properties.
    const patch = JSON.parse('{"__proto__":{"polluted":true},"constructor":"c","prototype":{"x":1},"latest_state":"success"}') as Record<
      string,
      unknown
    >;
    await h.run([
      moduleCreatedEvent({ deviceId: 'd1', moduleId: MODULE }),
      reportedPatchEvent({ deviceId: 'd1', moduleId: MODULE, patch, reportedVersion: 2, twinVersion: 3 }),
    ]);
    const stored = (await h.posture.getLatest('d1'))?.posture;
    expect(Object.keys(stored?.reported ?? {})).toEqual(['__proto__', 'constructor', 'prototype', 'latest_state']);
    const response = await makeDevicePostureHandler(() => Promise.resolve({ posture: h.posture }))(
      new HttpRequest({ method: 'GET', url: 'http://localhost/api/devices/d1/posture', params: { deviceId: 'd1' } }),
      new InvocationContext({ logHandler: () => undefined }),
    );
    expect(response.status).toBe(200);
    const body = JSON.parse(JSON.stringify(response.jsonBody)) as { reported: Record<string, unknown>; agentState: string };
    expect(JSON.stringify(body.reported)).toBe(
      '{"__proto__":{"polluted":true},"constructor":"c","prototype":{"x":1},"latest_state":"success"}',
    );
    expect(body.agentState).toBe('success');
    const [entry] = (await h.posture.listHistory('d1', { limit: 1 })).entries;
    expect(Object.keys(entry?.change ?? {})).toContain('__proto__');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('dead-letters a notification whose device id is not a legal IoT Hub id, and records no posture for it', async () => {
    const h = harness();
    const accented = 'é'.repeat(200);
    h.registry.addDevice(accented);
    const report = await h.run([
      deviceCreatedEvent({ deviceId: accented, authType: 'sas', edge: false }),
      moduleCreatedEvent({ deviceId: accented, moduleId: MODULE }),
      reportedPatchEvent({ deviceId: accented, moduleId: MODULE, patch: { latest_state: 'success' }, reportedVersion: 2, twinVersion: 3 }),
    ]);
    expect(report).toMatchObject({ received: 3, deadLettered: 3 });
    expect(h.deadLetters.all().map((d) => d.reason)).toEqual(
      Array(3).fill(`device id "${'é'.repeat(140)}"… is not a legal IoT Hub device id`),
    );
    expect(await h.posture.getLatest(accented)).toBeUndefined();
    expect((await h.posture.listHistory(accented, { limit: 10 })).entries).toEqual([]);
    expect(h.registry.calls.createModule).toBe(0);
  });

  it('dead-letters a binary notification body as base64 of its exact bytes', async () => {
    const h = harness();
    const random = seededRandom(1024);
    const bytes = Buffer.from(Array.from({ length: 1024 }, () => Math.floor(random() * 256)));
    const template = reportedPatchEvent({ deviceId: 'd1', moduleId: MODULE, patch: {}, reportedVersion: 2, twinVersion: 3 });
    await h.run([{ ...template, body: bytes }, telemetryEvent('d1', bytes)]);
    const letters = h.deadLetters.all();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      deviceId: 'd1',
      reason: 'body is not valid UTF-8',
      rawSize: 1024,
      raw: `base64:${bytes.toString('base64')}`,
    });
  });
});
