/** Storm mode's pure decisions: the threshold from the hub's quota, what a creation's facts decide, and job outcomes. */
import { FaultInjector, importJobPacingForTier, ratesForTier } from '../../emulator/faults';
import { loadConfig } from '../../shared/config/load-config';
import { parseCondition } from '../../shared/domain/iothub-query/twin-condition';
import { autoStormThreshold, decideDeferral, isRegistrationStorm, pendingProvisioningKey } from '../../shared/domain/registration-storm';
import { stormImportOutcome } from '../../shared/domain/storm-import-outcome';

const ENV = {
  IOTHUB_CONNECTION_STRING: 'HostName=hub.azure-devices.net;SharedAccessKeyName=service;SharedAccessKey=a2V5',
  IOTHUB_EVENTS_CONNECTION: 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=a2V5;EntityPath=hub',
  POSTURE_STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
};

describe('registration storm threshold', () => {
  it.each([
    ['S1', 1, 16],
    ['S1', 2, 33],
    ['S2', 4, 66],
    ['S3', 1, 833],
  ] as const)('auto for %s × %i units is %i creations per batch', (tier, units, expected) => {
    expect(autoStormThreshold(tier, units)).toBe(expected);
  });

  it('is a storm only above the threshold, never when off', () => {
    expect([
      isRegistrationStorm(16, 16),
      isRegistrationStorm(17, 16),
      isRegistrationStorm(1, 0),
      isRegistrationStorm(1000, undefined),
    ]).toEqual([false, true, true, false]);
  });

  it.each([
    [{}, 16],
    [{ IOTHUB_TIER: 's3', IOTHUB_UNITS: '2' }, 1666],
    [{ REGISTRATION_STORM_THRESHOLD: 'off' }, undefined],
    [{ REGISTRATION_STORM_THRESHOLD: '40' }, 40],
  ])('reads %j as threshold %s', (env, threshold) => {
    expect(loadConfig({ ...ENV, ...env }).storm.threshold).toBe(threshold);
  });

  it('reports every bad storm setting at start', () => {
    expect(() =>
      loadConfig({
        ...ENV,
        REGISTRATION_STORM_THRESHOLD: 'sometimes',
        IOTHUB_TIER: 'F1',
        IOTHUB_UNITS: '0',
        PENDING_PROVISIONING_TABLE: 'PostureLatest',
      }),
    ).toThrow(
      /IOTHUB_TIER must be S1, S2 or S3[\s\S]*IOTHUB_UNITS must be a whole number from 1 to 200[\s\S]*PENDING_PROVISIONING_TABLE must name a table different[\s\S]*REGISTRATION_STORM_THRESHOLD must be auto, off/,
    );
  });
});

describe('deciding a deferred creation from its facts', () => {
  const settings = { provisionEdgeDevices: false };
  it.each([
    [
      { authenticationType: 'sas', capabilities: { iotEdge: false } },
      { kind: 'queue', authentication: { type: 'sas' } },
    ],
    [
      { authenticationType: 'none', capabilities: { iotEdge: false } },
      { kind: 'queue', authentication: { type: 'sas' } },
    ],
    [
      { authenticationType: 'certificateAuthority', capabilities: { iotEdge: false } },
      { kind: 'queue', authentication: { type: 'certificateAuthority' } },
    ],
    [
      { authenticationType: 'selfSigned', capabilities: { iotEdge: false } },
      expect.objectContaining({ kind: 'record', status: 'needsThumbprint' }),
    ],
    [
      { authenticationType: 'sas', capabilities: { iotEdge: true } },
      { kind: 'record', status: 'skippedEdge' },
    ],
    [{ authenticationType: 'sas' }, { kind: 'resolve' }],
    [{ capabilities: { iotEdge: false } }, { kind: 'resolve' }],
  ])('%j → %j', (twin, decision) => {
    expect(decideDeferral(twin, settings)).toEqual(decision);
  });

  it('provisions Edge devices when asked to, and applies the target condition first', () => {
    const edge = { authenticationType: 'sas', capabilities: { iotEdge: true }, tags: { site: 'lab' } };
    expect(decideDeferral(edge, { provisionEdgeDevices: true })).toEqual({ kind: 'queue', authentication: { type: 'sas' } });
    const condition = parseCondition("tags.site = 'factory'");
    expect(decideDeferral(edge, { provisionEdgeDevices: true, targetCondition: condition })).toMatchObject({
      status: 'skippedByCondition',
    });
    expect(decideDeferral(edge, { provisionEdgeDevices: true, targetCondition: condition }, false)).toMatchObject({ kind: 'queue' });
  });

  it('keys a row by device and creation event, in device order', () => {
    const key = pendingProvisioningKey('line#1?', { partitionId: '3', sequenceNumber: 42 });
    expect(key).toBe('line%231%3F|3_00000000000000000042');
    expect(
      pendingProvisioningKey('a', { partitionId: '9', sequenceNumber: 1 }) <
        pendingProvisioningKey('b', { partitionId: '0', sequenceNumber: 0 }),
    ).toBe(true);
  });
});

describe('outcome of a finished storm import job', () => {
  const job = (errors: Record<string, string>, extra: Partial<{ jobFailed: boolean; unattributedErrors: number }> = {}) => ({
    jobFailed: false,
    errors: new Map(Object.entries(errors)),
    unattributedErrors: 0,
    ...extra,
  });
  it.each([
    ['ok', job({}), { status: 'created' }],
    ['dup', job({ dup: 'ModuleAlreadyExistsOnDevice: A module with ID …' }), { status: 'alreadyPresent' }],
    ['dup', job({ dup: '409301: exists' }), { status: 'alreadyPresent' }],
    ['gone', job({ gone: 'DeviceNotFound: Device gone not registered' }), { status: 'deviceNotFound' }],
    ['bad', job({ bad: 'ArgumentInvalid: bad line' }), { status: 'importFailed', error: 'ArgumentInvalid: bad line' }],
    ['ok', job({}, { unattributedErrors: 2 }), expect.objectContaining({ status: 'importFailed' })],
    ['gone', job({ gone: 'DeviceNotFound: x' }, { jobFailed: true }), expect.objectContaining({ status: 'importFailed' })],
  ])('%s in %j → %j', (deviceId, finished, outcome) => {
    expect(stormImportOutcome(deviceId, finished)).toEqual(outcome);
  });
});

describe('emulator: jobs quota class and import-job pacing', () => {
  it('throttles jobs operations at 100/min/unit (S1, S2) and 5,000 (S3)', () => {
    expect(ratesForTier('S1', 2).jobs).toEqual({ perSecond: 200 / 60, burst: 200 });
    expect(ratesForTier('S3', 1).jobs).toEqual({ perSecond: 5000 / 60, burst: 5000 });
    // Configurations and Edge deployments: 20/min/unit on every tier (reference limits.md B3).
    expect(ratesForTier('S3', 2).configurations).toEqual({ perSecond: 40 / 60, burst: 40 });
  });

  it('paces import jobs from a tier, explicitly, or not at all', () => {
    const faults = new FaultInjector();
    expect(faults.importJobPacing).toBeUndefined();
    faults.configureThrottling({ tier: 'S1', units: 1 });
    expect(faults.importJobPacing).toEqual(importJobPacingForTier('S1', 1));
    expect(importJobPacingForTier('S1', 1)).toEqual({ startDelayMs: 10_000, linesPerSecond: 50 });
    faults.setImportJobPacing({ startDelayMs: 0, linesPerSecond: 5 });
    expect(faults.importJobPacing).toEqual({ startDelayMs: 0, linesPerSecond: 5 });
    faults.reset();
    expect(faults.importJobPacing).toBeUndefined();
    expect(() => faults.setImportJobPacing({ startDelayMs: 0, linesPerSecond: 0 })).toThrow(RangeError);
  });
});
