import type { ModuleTwin } from '../../shared/ports/device-registry';
import {
  applyEvent,
  derivePosture,
  postureFromTwin,
  provisioningStep,
  type PostureContext,
  type PostureStep,
} from '../../shared/domain/posture';
import { LEGACY_CONFIG_KEYS } from '../../shared/domain/security-module/module-ids';
import type { HistoryEntry, HubEvent, JsonObject, LatestPosture, ProvisioningStatus } from '../../shared/domain/types';

const MODULE = 'DefenderIotMicroAgent';
const DEVICE = 'plant-7/line#2';
const CONTEXT: PostureContext = { securityModuleId: MODULE };
const [GITHUB_KEY, DOCS_KEY] = LEGACY_CONFIG_KEYS;

const T0 = Date.parse('2024-05-01T10:00:00.000Z');
/** Enqueued time `seconds` after T0; sequence numbers follow time so the stream order is obvious. */
function at(seconds: number): { position: HubEvent['position']; operationTime: Date } {
  const time = new Date(T0 + seconds * 1000);
  return {
    position: { partitionId: '3', sequenceNumber: 1000 + seconds, offset: String(5000 + seconds), enqueuedTime: time },
    operationTime: time,
  };
}
const iso = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

/** Reported patch body as IoT Hub routes it: version, changed keys, their $metadata, section $version. */
function reportedPatch(seconds: number, reportedVersion: number, changes: JsonObject, twinVersion = reportedVersion + 3): HubEvent {
  const stamp = iso(seconds);
  const perKey = Object.fromEntries(Object.keys(changes).map((key) => [key, { $lastUpdated: stamp }]));
  return {
    kind: 'twinChanged',
    ...at(seconds),
    deviceId: DEVICE,
    moduleId: MODULE,
    opType: 'updateTwin',
    body: {
      version: twinVersion,
      properties: { reported: { ...changes, $metadata: { $lastUpdated: stamp, ...perKey }, $version: reportedVersion } },
    },
  };
}

/** Desired/tag change body: all tags and the whole desired section, no reported. */
function desiredChange(seconds: number, desiredVersion: number, desired: JsonObject, moduleId: string = MODULE): HubEvent {
  const stamp = iso(seconds);
  return {
    kind: 'twinChanged',
    ...at(seconds),
    deviceId: DEVICE,
    moduleId,
    opType: 'updateTwin',
    body: {
      version: desiredVersion + 10,
      tags: { site: 'plant-7' },
      properties: {
        desired: { ...desired, $metadata: { $lastUpdated: stamp, $lastUpdatedVersion: desiredVersion }, $version: desiredVersion },
      },
    },
  };
}

function moduleTwinBody(
  version: number,
  desired: JsonObject,
  desiredVersion: number,
  reported: JsonObject,
  reportedVersion: number,
  lastUpdated = '0001-01-01T00:00:00Z',
): JsonObject {
  return {
    deviceId: DEVICE,
    moduleId: MODULE,
    etag: 'AAAAAAAAAAE=',
    version,
    authenticationType: 'sas',
    properties: {
      desired: { ...desired, $metadata: { $lastUpdated: lastUpdated }, $version: desiredVersion },
      reported: { ...reported, $metadata: { $lastUpdated: lastUpdated }, $version: reportedVersion },
    },
  };
}

function moduleCreated(seconds: number, twin: JsonObject = moduleTwinBody(2, {}, 1, {}, 1), moduleId = MODULE): HubEvent {
  return { kind: 'moduleCreated', ...at(seconds), deviceId: DEVICE, moduleId, twin };
}
function moduleDeleted(seconds: number, moduleId = MODULE): HubEvent {
  return { kind: 'moduleDeleted', ...at(seconds), deviceId: DEVICE, moduleId, twin: moduleTwinBody(9, {}, 3, {}, 5) };
}
function deviceDeleted(seconds: number): HubEvent {
  return { kind: 'deviceDeleted', ...at(seconds), deviceId: DEVICE, twin: { deviceId: DEVICE, etag: 'AAAAAAAAAAM=', version: 4 } };
}
function replaceTwin(seconds: number, body: JsonObject): HubEvent {
  return { kind: 'twinChanged', ...at(seconds), deviceId: DEVICE, moduleId: MODULE, opType: 'replaceTwin', body };
}

/** A stored posture with module present and known sections. */
function stored(overrides: Partial<LatestPosture> = {}): LatestPosture {
  return derivePosture({
    deviceId: DEVICE,
    moduleId: MODULE,
    modulePresent: true,
    deviceDeleted: false,
    authType: 'sas',
    twinVersion: 12,
    desired: { Process_Mode: 2 },
    desiredVersion: 3,
    reported: { Process_Mode: 2, latest_state: 'success', agent: { version: '4.2', os: 'linux' } },
    reportedVersion: 6,
    reportedLastUpdated: '2024-05-01T09:00:00.000Z',
    updatedAt: iso(0),
    ...overrides,
  });
}

/** The stored posture without its derived agent state, which an absent module must not carry. */
function storedWithoutVerdict(): Omit<LatestPosture, 'agentState'> {
  const { agentState: _agentState, ...rest } = stored();
  return rest;
}

function applied(step: PostureStep): { next: LatestPosture; history: HistoryEntry } {
  if (step.kind !== 'applied') throw new Error(`expected applied, got ${JSON.stringify(step)}`);
  return step;
}

/** Applies events in order, as the handler would, failing on anything but applied/alreadyApplied. */
function fold(events: HubEvent[], start?: LatestPosture): LatestPosture | undefined {
  let latest = start;
  for (const event of events) {
    const step = applyEvent(latest, event, CONTEXT);
    if (step.kind === 'applied') latest = step.next;
    else if (step.kind !== 'alreadyApplied') throw new Error(`unexpected ${JSON.stringify(step)}`);
  }
  return latest;
}

describe('applyEvent: which events are about the security module', () => {
  it.each<[string, HubEvent]>([
    ['device created', { kind: 'deviceCreated', ...at(1), deviceId: DEVICE, twin: { deviceId: DEVICE, version: 1 } }],
    [
      'device twin change',
      {
        kind: 'twinChanged',
        ...at(1),
        deviceId: DEVICE,
        opType: 'updateTwin',
        body: { version: 3, properties: { reported: { a: 1, $version: 2 } } },
      },
    ],
    ['another module twin change', desiredChange(1, 4, { x: 1 }, 'edgeAgent')],
    ['module id differing only in case', desiredChange(1, 4, { x: 1 }, 'defenderiotmicroagent')],
    ['another module created', moduleCreated(1, moduleTwinBody(2, {}, 1, {}, 1), 'module-1')],
    ['another module deleted', moduleDeleted(1, 'module-1')],
  ])('%s → notSecurityModule', (_name, event) => {
    expect(applyEvent(stored(), event, CONTEXT)).toStrictEqual({ kind: 'notSecurityModule' });
  });
});

describe('applyEvent: reported patches', () => {
  it('merges an in-order patch (nested keys, null deletes) and records the change without metadata', () => {
    const event = reportedPatch(30, 7, { agent: { version: '4.3', os: null }, Login_UsePAM: null, Process_Mode: 3 });
    const latest = stored({
      reported: { Process_Mode: 2, Login_UsePAM: true, latest_state: 'success', agent: { version: '4.2', os: 'linux' } },
    });
    expect(applyEvent(latest, event, CONTEXT)).toStrictEqual({
      kind: 'applied',
      next: {
        deviceId: DEVICE,
        moduleId: MODULE,
        modulePresent: true,
        deviceDeleted: false,
        authType: 'sas',
        twinVersion: 12,
        desired: { Process_Mode: 2 },
        desiredVersion: 3,
        reported: { Process_Mode: 3, latest_state: 'success', agent: { version: '4.3' } },
        reportedVersion: 7,
        reportedLastUpdated: iso(30),
        configurationState: 'drifted',
        driftedKeys: ['Process_Mode'],
        agentState: 'success',
        invalidFields: [],
        updatedAt: iso(30),
      },
      history: {
        deviceId: DEVICE,
        at: new Date(T0 + 30_000),
        partitionId: '3',
        sequenceNumber: 1030,
        kind: 'reportedChanged',
        moduleId: MODULE,
        summary: 'reported v7: 3 keys',
        twinVersion: 12,
        reportedVersion: 7,
        desiredVersion: 3,
        change: { agent: { version: '4.3', os: null }, Login_UsePAM: null, Process_Mode: 3 },
        posture: {
          modulePresent: true,
          configurationState: 'drifted',
          driftedKeys: ['Process_Mode'],
          invalidFields: [],
          agentState: 'success',
          authType: 'sas',
        },
      },
    });
  });

  it('takes the body version as twin version when it is newer', () => {
    expect(applied(applyEvent(stored(), reportedPatch(30, 7, { a: 1 }, 15), CONTEXT)).next.twinVersion).toBe(15);
  });

  it('applies consecutive patches in order', () => {
    const latest = fold(
      [reportedPatch(10, 7, { a: 1 }), reportedPatch(20, 8, { b: { c: 2 } }), reportedPatch(30, 9, { a: null, b: { d: 3 } })],
      stored(),
    );
    expect(latest?.reported).toStrictEqual({
      Process_Mode: 2,
      latest_state: 'success',
      agent: { version: '4.2', os: 'linux' },
      b: { c: 2, d: 3 },
    });
    expect(latest?.reportedVersion).toBe(9);
    expect(latest?.updatedAt).toBe(iso(30));
  });

  it('summarises a failed configuration with its invalid fields', () => {
    const event = reportedPatch(30, 7, { latest_state: 'failed', latest_invalid_fields: ['Process_Mode'] });
    const { next, history } = applied(applyEvent(stored(), event, CONTEXT));
    expect(history.summary).toBe('reported v7: latest_state=failed (invalid: Process_Mode)');
    expect([next.configurationState, next.driftedKeys, next.agentState, next.invalidFields]).toStrictEqual([
      'drifted',
      ['Process_Mode'],
      'failed',
      ['Process_Mode'],
    ]);
  });

  it.each<[string, LatestPosture | undefined, HubEvent, PostureStep]>([
    [
      'the same event twice',
      stored({ reportedVersion: 7, updatedAt: iso(30) }),
      reportedPatch(30, 7, { a: 1 }),
      { kind: 'alreadyApplied' },
    ],
    [
      'an older patch after a newer one',
      stored({ reportedVersion: 9, updatedAt: iso(30) }),
      reportedPatch(10, 7, { a: 1 }),
      { kind: 'alreadyApplied' },
    ],
    [
      'a version jump (coalesced notifications)',
      stored(),
      reportedPatch(30, 9, { a: 1 }),
      { kind: 'gap', reason: 'reported $version jumped from 6 to 9: intermediate changes not seen' },
    ],
    [
      'one missing version is already a gap',
      stored(),
      reportedPatch(30, 8, { a: 1 }),
      { kind: 'gap', reason: 'reported $version jumped from 6 to 8: intermediate changes not seen' },
    ],
    ['no stored posture', undefined, reportedPatch(30, 7, { a: 1 }), { kind: 'gap', reason: 'no stored posture for this device' }],
    [
      'stored posture without a reported version',
      stored({ reportedVersion: undefined, reported: undefined }),
      reportedPatch(30, 7, { a: 1 }),
      { kind: 'gap', reason: 'stored reported section has no $version: unknown base' },
    ],
    [
      'a patch without $version',
      stored(),
      {
        kind: 'twinChanged',
        ...at(30),
        deviceId: DEVICE,
        moduleId: MODULE,
        opType: 'updateTwin',
        body: { version: 20, properties: { reported: { a: 1 } } },
      },
      { kind: 'gap', reason: 'reported patch without $version' },
    ],
    [
      'a newer patch for a module recorded as deleted',
      stored({ modulePresent: false, updatedAt: iso(20) }),
      reportedPatch(30, 2, { a: 1 }),
      { kind: 'gap', reason: `module ${MODULE} changed while recorded as absent: created or re-created since` },
    ],
    [
      'a replayed patch from before the module was deleted',
      stored({ modulePresent: false, updatedAt: iso(20) }),
      reportedPatch(10, 7, { a: 1 }),
      { kind: 'alreadyApplied' },
    ],
    [
      'a newer patch after the device was deleted',
      stored({ deviceDeleted: true, modulePresent: false, updatedAt: iso(20) }),
      reportedPatch(30, 2, { a: 1 }),
      { kind: 'gap', reason: `module ${MODULE} changed while recorded as absent: created or re-created since` },
    ],
    [
      'a tags-only change',
      stored(),
      {
        kind: 'twinChanged',
        ...at(30),
        deviceId: DEVICE,
        moduleId: MODULE,
        opType: 'updateTwin',
        body: { version: 20, tags: { site: 'x' } },
      },
      { kind: 'alreadyApplied' },
    ],
  ])('%s', (_name, latest, event, expected) => {
    expect(applyEvent(latest, event, CONTEXT)).toStrictEqual(expected);
  });
});

describe('applyEvent: desired changes and drift', () => {
  it('replaces the whole desired section and detects micro-agent drift', () => {
    const event = desiredChange(40, 4, {
      Process_Mode: 3,
      Login_UsePAM: true,
      Process_CacheSize: 256,
      CollectorsCore_PriorityIntervals: '30,120,1440',
    });
    const latest = stored({
      reported: {
        Process_Mode: 2,
        Login_UsePAM: 'True',
        Process_CacheSize: '256',
        CollectorsCore_PriorityIntervals: '30, 120, 1440',
        latest_state: 'success',
      },
    });
    const { next, history } = applied(applyEvent(latest, event, CONTEXT));
    expect(next.desired).toStrictEqual({
      Process_Mode: 3,
      Login_UsePAM: true,
      Process_CacheSize: 256,
      CollectorsCore_PriorityIntervals: '30,120,1440',
    });
    expect([next.desiredVersion, next.twinVersion, next.configurationState, next.driftedKeys]).toStrictEqual([
      4,
      14,
      'drifted',
      ['Process_Mode'],
    ]);
    expect([history.kind, history.summary, history.change]).toStrictEqual(['desiredChanged', 'desired v4: 4 keys', next.desired]);
  });

  it.each<[string, JsonObject, JsonObject, 'inSync' | 'drifted' | 'pending', string[]]>([
    [
      'legacy flat, GitHub spelling, in sync',
      { [GITHUB_KEY]: { snapshotFrequency: 'PT13H' } },
      { [GITHUB_KEY]: { snapshotFrequency: 'PT13H', eventPriorityLogin: 'High' } },
      'inSync',
      [],
    ],
    [
      'legacy wrapped desired vs flat reported',
      { [DOCS_KEY]: { snapshotFrequency: { value: 'PT1H' } } },
      { [GITHUB_KEY]: { snapshotFrequency: 'PT13H' } },
      'drifted',
      ['snapshotFrequency'],
    ],
    [
      'legacy wrapped on both sides',
      { [DOCS_KEY]: { eventPriorityLogin: { value: 'Off' } } },
      { [DOCS_KEY]: { eventPriorityLogin: { value: 'Off' } } },
      'inSync',
      [],
    ],
    ['legacy agent has not reported yet', { [DOCS_KEY]: { eventPriorityLogin: { value: 'Off' } } }, {}, 'pending', []],
  ])('legacy module: %s', (_name, desired, reported, state, driftedKeys) => {
    const legacyContext: PostureContext = { securityModuleId: 'azureiotsecurity' };
    const latest = stored({ moduleId: 'azureiotsecurity', reported, desired: {} });
    const event = { ...desiredChange(40, 4, desired), moduleId: 'azureiotsecurity' };
    const { next } = applied(applyEvent(latest, event, legacyContext));
    expect([next.configurationState, next.driftedKeys]).toStrictEqual([state, driftedKeys]);
  });

  it.each<[string, LatestPosture, HubEvent, PostureStep['kind']]>([
    ['same desired version again', stored({ desiredVersion: 4 }), desiredChange(40, 4, { Process_Mode: 3 }), 'alreadyApplied'],
    ['older desired version', stored({ desiredVersion: 5 }), desiredChange(40, 4, { Process_Mode: 3 }), 'alreadyApplied'],
    ['desired version jump is still complete', stored({ desiredVersion: 1 }), desiredChange(40, 9, { Process_Mode: 3 }), 'applied'],
    ['no stored desired version', stored({ desiredVersion: undefined }), desiredChange(40, 1, { Process_Mode: 3 }), 'applied'],
  ])('%s', (_name, latest, event, kind) => {
    expect(applyEvent(latest, event, CONTEXT).kind).toBe(kind);
  });

  it('handles a coalesced body carrying both sections', () => {
    const body = {
      version: 20,
      properties: {
        desired: { Process_Mode: 3, $metadata: { $lastUpdated: iso(50), $lastUpdatedVersion: 4 }, $version: 4 },
        reported: { Process_Mode: 3, $metadata: { $lastUpdated: iso(50), Process_Mode: { $lastUpdated: iso(50) } }, $version: 7 },
      },
    };
    const event: HubEvent = { kind: 'twinChanged', ...at(50), deviceId: DEVICE, moduleId: MODULE, opType: 'updateTwin', body };
    const { next, history } = applied(applyEvent(stored(), event, CONTEXT));
    expect([next.configurationState, next.reportedVersion, next.desiredVersion, next.twinVersion]).toStrictEqual(['inSync', 7, 4, 20]);
    expect([history.kind, history.summary, history.change]).toStrictEqual([
      'reportedChanged',
      'reported v7: 1 key; desired v4: 1 key',
      { reported: { Process_Mode: 3 }, desired: { Process_Mode: 3 } },
    ]);
  });
});

describe('applyEvent: lifecycle', () => {
  const createdBody = moduleTwinBody(2, { Process_Mode: 2 }, 1, {}, 1, '2024-05-01T10:00:05.000Z');

  it('a module create starts a posture from the body', () => {
    expect(applyEvent(undefined, moduleCreated(5, createdBody), CONTEXT)).toStrictEqual({
      kind: 'applied',
      next: {
        deviceId: DEVICE,
        moduleId: MODULE,
        modulePresent: true,
        deviceDeleted: false,
        authType: 'sas',
        twinVersion: 2,
        desired: { Process_Mode: 2 },
        desiredVersion: 1,
        reported: {},
        reportedVersion: 1,
        reportedLastUpdated: '2024-05-01T10:00:05.000Z',
        configurationState: 'pending',
        driftedKeys: [],
        invalidFields: [],
        updatedAt: iso(5),
      },
      history: {
        deviceId: DEVICE,
        at: new Date(T0 + 5000),
        partitionId: '3',
        sequenceNumber: 1005,
        kind: 'moduleCreated',
        moduleId: MODULE,
        summary: `module ${MODULE} created (twin v2)`,
        twinVersion: 2,
        reportedVersion: 1,
        desiredVersion: 1,
        change: { desired: { Process_Mode: 2 }, reported: {} },
        posture: { modulePresent: true, configurationState: 'pending', driftedKeys: [], invalidFields: [], authType: 'sas' },
      },
    });
  });

  it('a replayed create after the twin moved on is already applied', () => {
    expect(applyEvent(stored({ twinVersion: 12, updatedAt: iso(30) }), moduleCreated(5, createdBody), CONTEXT)).toStrictEqual({
      kind: 'alreadyApplied',
    });
  });

  it('a delete keeps the last sections for forensics but judges nothing', () => {
    const { next, history } = applied(applyEvent(stored({ updatedAt: iso(30) }), moduleDeleted(40), CONTEXT));
    expect(next).toStrictEqual({
      ...storedWithoutVerdict(),
      modulePresent: false,
      configurationState: 'unknown',
      driftedKeys: [],
      invalidFields: [],
      updatedAt: iso(40),
    });
    expect([history.kind, history.summary, history.posture]).toStrictEqual([
      'moduleDeleted',
      `module ${MODULE} deleted`,
      { modulePresent: false, configurationState: 'unknown', driftedKeys: [], invalidFields: [], authType: 'sas' },
    ]);
  });

  it('delete then re-create: the low twin version of the new module is applied, and patches continue from it', () => {
    const latest = fold(
      [moduleDeleted(40), moduleCreated(50, createdBody), reportedPatch(60, 2, { Process_Mode: 2, latest_state: 'success' }, 3)],
      stored({ updatedAt: iso(30) }),
    );
    expect(latest).toStrictEqual({
      deviceId: DEVICE,
      moduleId: MODULE,
      modulePresent: true,
      deviceDeleted: false,
      authType: 'sas',
      twinVersion: 3,
      desired: { Process_Mode: 2 },
      desiredVersion: 1,
      reported: { Process_Mode: 2, latest_state: 'success' },
      reportedVersion: 2,
      reportedLastUpdated: iso(60),
      configurationState: 'inSync',
      driftedKeys: [],
      agentState: 'success',
      invalidFields: [],
      updatedAt: iso(60),
    });
  });

  it.each<[string, HubEvent[], HubEvent]>([
    ['a replayed create after its delete', [moduleCreated(5, createdBody), moduleDeleted(60)], moduleCreated(5, createdBody)],
    ['the same delete twice', [moduleCreated(5, createdBody), moduleDeleted(60)], moduleDeleted(60)],
    [
      'a replayed delete after a re-create',
      [moduleCreated(5, createdBody), moduleDeleted(40), moduleCreated(50, createdBody)],
      moduleDeleted(40),
    ],
    [
      'a replayed first create after a re-create',
      [moduleCreated(5, createdBody), moduleDeleted(40), moduleCreated(50, createdBody)],
      moduleCreated(5, createdBody),
    ],
  ])('%s is already applied', (_name, history, replay) => {
    expect(applyEvent(fold(history), replay, CONTEXT)).toStrictEqual({ kind: 'alreadyApplied' });
  });

  it('a delete in the same millisecond as the create is applied, not taken for a replay', () => {
    const latest = fold([moduleCreated(40, createdBody), moduleDeleted(40)]);
    expect([latest?.modulePresent, latest?.updatedAt]).toStrictEqual([false, iso(40)]);
  });

  it('a device delete marks the device and module gone', () => {
    const { next, history } = applied(applyEvent(stored(), deviceDeleted(40), CONTEXT));
    expect([next.deviceDeleted, next.modulePresent, next.configurationState, next.updatedAt]).toStrictEqual([
      true,
      false,
      'unknown',
      iso(40),
    ]);
    expect([history.kind, history.summary, history.moduleId]).toStrictEqual(['deviceDeleted', 'device deleted', MODULE]);
    expect(applyEvent(next, deviceDeleted(40), CONTEXT)).toStrictEqual({ kind: 'alreadyApplied' });
  });

  it('a device delete for an unknown device still records it', () => {
    const { next } = applied(applyEvent(undefined, deviceDeleted(40), CONTEXT));
    expect(next).toStrictEqual({
      deviceId: DEVICE,
      moduleId: MODULE,
      modulePresent: false,
      deviceDeleted: true,
      configurationState: 'unknown',
      driftedKeys: [],
      invalidFields: [],
      updatedAt: iso(40),
    });
  });

  it('a module create after a device delete (device re-created) clears the deleted flag', () => {
    const latest = fold([deviceDeleted(40), moduleCreated(50, createdBody)], stored());
    expect([latest?.deviceDeleted, latest?.modulePresent, latest?.twinVersion]).toStrictEqual([false, true, 2]);
  });
});

describe('applyEvent: replaceTwin', () => {
  const body = moduleTwinBody(20, { Process_Mode: 3 }, 5, { Process_Mode: 3, latest_state: 'success' }, 8, '2024-05-01T10:01:00.000Z');

  it('replaces both sections from the whole twin', () => {
    const { next, history } = applied(applyEvent(stored(), replaceTwin(60, body), CONTEXT));
    expect(next).toStrictEqual({
      ...stored(),
      twinVersion: 20,
      desired: { Process_Mode: 3 },
      desiredVersion: 5,
      reported: { Process_Mode: 3, latest_state: 'success' },
      reportedVersion: 8,
      reportedLastUpdated: '2024-05-01T10:01:00.000Z',
      updatedAt: iso(60),
    });
    expect([history.kind, history.summary]).toStrictEqual(['twinReplaced', 'twin replaced v20: desired v5, reported v8']);
  });

  it.each<[string, LatestPosture | undefined, PostureStep['kind']]>([
    ['older or equal twin version', stored({ twinVersion: 20 }), 'alreadyApplied'],
    ['no stored posture', undefined, 'applied'],
    ['module recorded as deleted earlier', stored({ modulePresent: false, twinVersion: 40, updatedAt: iso(30) }), 'applied'],
    ['module deleted after this replace', stored({ modulePresent: false, twinVersion: 40, updatedAt: iso(90) }), 'alreadyApplied'],
  ])('%s', (_name, latest, kind) => {
    expect(applyEvent(latest, replaceTwin(60, body), CONTEXT).kind).toBe(kind);
  });

  it('keeps the stored reported section when the body has none', () => {
    const withoutReported = { ...body, properties: { desired: { Process_Mode: 3, $version: 5 } } };
    const { next } = applied(applyEvent(stored(), replaceTwin(60, withoutReported), CONTEXT));
    expect([next.reported, next.reportedVersion, next.reportedLastUpdated]).toStrictEqual([
      stored().reported,
      6,
      '2024-05-01T09:00:00.000Z',
    ]);
  });
});

describe('derivePosture', () => {
  const raw = {
    deviceId: DEVICE,
    moduleId: MODULE,
    modulePresent: true,
    deviceDeleted: false,
    desired: { Process_Mode: 2 },
    reported: { Process_Mode: 1, latest_state: 'failed', latest_invalid_fields: ['Process_Mode'] },
    updatedAt: iso(0),
  };

  it.each<
    [string, Partial<LatestPosture>, Pick<LatestPosture, 'configurationState' | 'driftedKeys' | 'invalidFields'> & { agentState?: string }]
  >([
    [
      'present module is judged',
      {},
      { configurationState: 'drifted', driftedKeys: ['Process_Mode'], agentState: 'failed', invalidFields: ['Process_Mode'] },
    ],
    ['absent module is not judged', { modulePresent: false }, { configurationState: 'unknown', driftedKeys: [], invalidFields: [] }],
    [
      'deleted device is not judged even if flagged present',
      { deviceDeleted: true },
      { configurationState: 'unknown', driftedKeys: [], invalidFields: [] },
    ],
    [
      'legacy module id switches schema',
      { moduleId: 'azureiotsecurity' },
      { configurationState: 'unknown', driftedKeys: [], agentState: 'failed', invalidFields: ['Process_Mode'] },
    ],
  ])('%s', (_name, overrides, derived) => {
    expect(derivePosture({ ...raw, ...overrides })).toStrictEqual({ ...raw, ...overrides, ...derived });
  });

  it('replaces stale derived fields carried by its input', () => {
    const stale = {
      ...raw,
      modulePresent: false,
      configurationState: 'drifted',
      driftedKeys: ['x'],
      agentState: 'failed',
      invalidFields: ['x'],
    } as LatestPosture;
    expect(derivePosture(stale)).toStrictEqual({
      ...raw,
      modulePresent: false,
      configurationState: 'unknown',
      driftedKeys: [],
      invalidFields: [],
    });
  });
});

describe('postureFromTwin', () => {
  const twin: ModuleTwin = {
    deviceId: DEVICE,
    moduleId: MODULE,
    etag: 'AAAAAAAAAAk=',
    version: 31,
    tags: {},
    desired: { Process_Mode: 2, $metadata: { $lastUpdated: '2024-05-01T10:02:00.000Z' }, $version: 4 },
    reported: { Process_Mode: 2, latest_state: 'success', $metadata: { $lastUpdated: '2024-05-01T10:03:00.000Z' }, $version: 11 },
    authType: 'selfSigned',
  };

  it('resyncs from the twin after a gap', () => {
    const gapEvent = reportedPatch(90, 11, { Process_Mode: 2 });
    expect(postureFromTwin(stored(), twin, gapEvent, CONTEXT)).toStrictEqual({
      next: {
        deviceId: DEVICE,
        moduleId: MODULE,
        modulePresent: true,
        deviceDeleted: false,
        authType: 'selfSigned',
        twinVersion: 31,
        desired: { Process_Mode: 2 },
        desiredVersion: 4,
        reported: { Process_Mode: 2, latest_state: 'success' },
        reportedVersion: 11,
        reportedLastUpdated: '2024-05-01T10:03:00.000Z',
        configurationState: 'inSync',
        driftedKeys: [],
        agentState: 'success',
        invalidFields: [],
        updatedAt: iso(90),
      },
      history: {
        deviceId: DEVICE,
        at: new Date(T0 + 90_000),
        partitionId: '3',
        sequenceNumber: 1090,
        kind: 'resynced',
        moduleId: MODULE,
        summary: 'resynced from twin v31: desired v4, reported v11',
        twinVersion: 31,
        reportedVersion: 11,
        desiredVersion: 4,
        change: { desired: { Process_Mode: 2 }, reported: { Process_Mode: 2, latest_state: 'success' } },
        posture: {
          modulePresent: true,
          configurationState: 'inSync',
          driftedKeys: [],
          invalidFields: [],
          agentState: 'success',
          authType: 'selfSigned',
        },
      },
    });
  });

  it('lets the next patch apply on top of the resynced twin', () => {
    const { next } = postureFromTwin(undefined, twin, reportedPatch(90, 10, { a: 1 }), CONTEXT);
    expect(
      applied(applyEvent(next, reportedPatch(95, 12, { latest_state: 'failed', latest_invalid_fields: 'Process_Mode' }), CONTEXT)).next
        .configurationState,
    ).toBe('drifted');
  });

  it('records a module that is gone, keeping the last sections', () => {
    const { next, history } = postureFromTwin(stored(), undefined, reportedPatch(90, 11, {}), CONTEXT);
    expect(next).toStrictEqual({
      ...storedWithoutVerdict(),
      modulePresent: false,
      configurationState: 'unknown',
      driftedKeys: [],
      invalidFields: [],
      updatedAt: iso(90),
    });
    expect([history.kind, history.summary, history.change]).toStrictEqual(['resynced', `resynced: module ${MODULE} not found`, undefined]);
  });

  it('records a module that is gone for a device never seen', () => {
    const { next } = postureFromTwin(undefined, undefined, reportedPatch(90, 11, {}), CONTEXT);
    expect(next).toStrictEqual({
      deviceId: DEVICE,
      moduleId: MODULE,
      modulePresent: false,
      deviceDeleted: false,
      configurationState: 'unknown',
      driftedKeys: [],
      invalidFields: [],
      updatedAt: iso(90),
    });
  });

  it('never moves updatedAt backwards', () => {
    expect(postureFromTwin(stored({ updatedAt: iso(100) }), twin, reportedPatch(90, 11, {}), CONTEXT).next.updatedAt).toBe(iso(100));
  });
});

describe('provisioningStep', () => {
  const deviceCreated: HubEvent = { kind: 'deviceCreated', ...at(1), deviceId: DEVICE, twin: { deviceId: DEVICE, version: 2 } };
  const fresh = {
    deviceId: DEVICE,
    moduleId: MODULE,
    configurationState: 'unknown',
    driftedKeys: [],
    invalidFields: [],
    updatedAt: iso(1),
  };

  it.each<[ProvisioningStatus, Partial<LatestPosture>]>([
    ['created', { modulePresent: true, deviceDeleted: false, configurationState: 'unknown' }],
    ['alreadyPresent', { modulePresent: true, deviceDeleted: false }],
    ['deviceNotFound', { modulePresent: false, deviceDeleted: true }],
    ['needsThumbprint', { modulePresent: false, deviceDeleted: false }],
    ['skippedEdge', { modulePresent: false, deviceDeleted: false }],
    ['skippedByCondition', { modulePresent: false, deviceDeleted: false }],
  ])('new device, %s', (status, expected) => {
    const { next, history } = provisioningStep(undefined, DEVICE, status, deviceCreated, CONTEXT, { reason: 'test' });
    expect(next).toStrictEqual({ ...fresh, ...expected, provisioning: status });
    expect([history.kind, history.summary, history.change, history.sequenceNumber]).toStrictEqual([
      'provisioning',
      `provisioning: ${status}`,
      { reason: 'test' },
      1001,
    ]);
  });

  it('alreadyPresent on a known module keeps its sections and verdict', () => {
    const { next } = provisioningStep(stored({ updatedAt: iso(0) }), DEVICE, 'alreadyPresent', deviceCreated, CONTEXT);
    expect(next).toStrictEqual({ ...stored(), provisioning: 'alreadyPresent', updatedAt: iso(1) });
  });

  it('created after a delete clears the old sections so the next patch resyncs', () => {
    const { next } = provisioningStep(stored({ modulePresent: false }), DEVICE, 'created', deviceCreated, CONTEXT);
    expect(next).toStrictEqual({ ...fresh, modulePresent: true, deviceDeleted: false, authType: 'sas', provisioning: 'created' });
    expect(applyEvent(next, reportedPatch(5, 2, { a: 1 }), CONTEXT)).toStrictEqual({
      kind: 'gap',
      reason: 'stored reported section has no $version: unknown base',
    });
  });

  it('the module create event that follows provisioning fills the sections in', () => {
    const { next } = provisioningStep(undefined, DEVICE, 'created', deviceCreated, CONTEXT);
    const after = applied(applyEvent(next, moduleCreated(2), CONTEXT)).next;
    expect([after.provisioning, after.twinVersion, after.reportedVersion, after.configurationState]).toStrictEqual([
      'created',
      2,
      1,
      'unknown',
    ]);
  });
});

describe('reported properties named __proto__, constructor or prototype (IoT Hub accepts them)', () => {
  const wire = (text: string): JsonObject => JSON.parse(text) as JsonObject;

  it('survive module creation, an in-order patch, a replace and a resync, in posture and history', () => {
    const created = applied(
      applyEvent(undefined, moduleCreated(10, moduleTwinBody(2, {}, 1, wire('{"__proto__":{"a":1},"constructor":"c"}'), 1)), CONTEXT),
    );
    expect(JSON.stringify(created.next.reported)).toBe('{"__proto__":{"a":1},"constructor":"c"}');
    expect(JSON.stringify(created.history.change)).toBe('{"desired":{},"reported":{"__proto__":{"a":1},"constructor":"c"}}');

    const patched = applied(applyEvent(created.next, reportedPatch(20, 2, wire('{"__proto__":{"b":2},"prototype":{"x":1}}')), CONTEXT));
    expect(JSON.stringify(patched.next.reported)).toBe('{"__proto__":{"a":1,"b":2},"constructor":"c","prototype":{"x":1}}');
    expect(JSON.stringify(patched.history.change)).toBe('{"__proto__":{"b":2},"prototype":{"x":1}}');
    expect(Object.getPrototypeOf(patched.next.reported)).toBe(Object.prototype);

    const replaced = applied(
      applyEvent(patched.next, replaceTwin(30, moduleTwinBody(20, wire('{"__proto__":{"d":1}}'), 4, {}, 2)), CONTEXT),
    );
    expect(JSON.stringify(replaced.next.desired)).toBe('{"__proto__":{"d":1}}');
    expect(JSON.stringify(replaced.next.reported)).toBe('{}');

    const twin: ModuleTwin = {
      deviceId: DEVICE,
      moduleId: MODULE,
      etag: 'AAAAAAAAAAk=',
      version: 30,
      tags: {},
      authType: 'sas',
      desired: { $version: 5 },
      reported: wire('{"__proto__":{"r":1},"$version":9}'),
    };
    const resynced = postureFromTwin(replaced.next, twin, reportedPatch(40, 9, {}), CONTEXT);
    expect(JSON.stringify(resynced.next.reported)).toBe('{"__proto__":{"r":1}}');
  });
});
