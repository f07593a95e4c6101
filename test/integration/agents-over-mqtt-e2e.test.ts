/**
 * TwinGuard end to end with the security agents on the device side of the hub: a device created with azure-iothub →
 * TwinGuard (event pipeline over AMQP, Azurite tables) creates its security module with the baseline → the agent, an
 * azure-iot-device ModuleClient over MQTT with that module's own credentials, connects and reports → TwinGuard
 * records the posture. The agent then disconnects; a compliance sweep run past the inactivity window flags
 * `module-inactive` for it (and not for a device whose agent stays connected), on the same posture rows.
 */
import { MemorySweepStore } from '../../shared/adapters/memory/memory-sweep-store';
import { eventually } from '../../testing/eventually';
import { sweepHarness } from '../../testing/sweep-harness';
import { startSystem, type System } from '../../testing/start-system';

const MODULE = 'DefenderIotMicroAgent';
const BASELINE = { Process_Mode: 2, Heartbeat_MessageFrequency: 'High' };
const INACTIVE_HOURS = 72;
const HOUR_MS = 3_600_000;

interface ModuleTwinView {
  connectionState?: string;
  lastActivityTime?: string;
  properties: { reported: Record<string, unknown> };
}

let system: System;

beforeAll(async () => {
  system = await startSystem({ env: { SECURITY_MODULE_BASELINE: JSON.stringify(BASELINE) } });
  await system.startConsumer();
});

afterAll(async () => {
  await system.stop();
});

async function moduleTwin(deviceId: string): Promise<ModuleTwinView> {
  return (await system.sdkRegistry.getModuleTwin(deviceId, MODULE)).responseBody;
}

function inSyncPosture(deviceId: string) {
  return eventually(
    async () => {
      const stored = await system.services.posture.getLatest(deviceId);
      return stored?.posture.agentState === 'success' && stored.posture.configurationState === 'inSync' ? stored.posture : undefined;
    },
    20_000,
    `the agent of ${deviceId} to report an in-sync configuration`,
  );
}

it('device created → module created → agent connects over MQTT and reports → posture; disconnected past the window → module-inactive', async () => {
  const { hub } = system;
  const quiet = 'mqtt-e2e-quiet#1';
  const steady = 'mqtt-e2e-steady';
  const accepted = hub.mqtt.stats.accepted;
  await system.sdkRegistry.create({ deviceId: quiet, status: 'enabled' });
  await system.sdkRegistry.create({ deviceId: steady, status: 'enabled' });

  const posture = await inSyncPosture(quiet);
  await inSyncPosture(steady);
  expect(posture).toMatchObject({ deviceId: quiet, moduleId: MODULE, modulePresent: true, provisioning: 'created' });
  // Both agents connected as their module identities (CONNACK accepted) and reported the baseline over MQTT.
  expect(hub.mqtt.stats.accepted - accepted).toBeGreaterThanOrEqual(2);
  expect(hub.mqtt.isConnected(quiet, MODULE)).toBe(true);
  const connected = await moduleTwin(quiet);
  expect(connected.connectionState).toBe('Connected');
  expect(connected.properties.reported).toMatchObject({ ...BASELINE, latest_state: 'success', latest_invalid_fields: [] });
  const history = await system.services.posture.listHistory(quiet, { limit: 50 });
  expect(history.entries.map((entry) => entry.kind)).toEqual(expect.arrayContaining(['moduleCreated', 'reportedChanged']));

  hub.agents.setMode(quiet, 'disconnected');
  await hub.agents.whenIdle();
  const disconnected = await moduleTwin(quiet);
  expect(disconnected.connectionState).toBe('Disconnected');
  expect(hub.mqtt.isConnected(steady, MODULE)).toBe(true);
  const disconnectedAt = Date.parse(disconnected.lastActivityTime ?? '');
  expect(Number.isFinite(disconnectedAt)).toBe(true);

  const sweeps = new MemorySweepStore();
  const settings = {
    rules: {
      moduleId: MODULE,
      schema: 'microAgent' as const,
      baseline: BASELINE,
      staleAgentHours: 24 * 365,
      inactiveModuleHours: INACTIVE_HOURS,
      requiredModuleAuth: 'any' as const,
    },
  };
  const inactiveOf = (sweepId: string) =>
    sweeps
      .allFindings(sweepId)
      .filter((finding) => finding.ruleId === 'module-inactive')
      .map((finding) => finding.deviceId);

  // Within the window the disconnected module is no finding yet.
  const within = sweepHarness(hub, { settings, sweeps, posture: system.services.posture, now: () => new Date(disconnectedAt + HOUR_MS) });
  try {
    expect((await within.sweep({ sweepId: 'sw-within' })).status).toBe('completed');
    expect(inactiveOf('sw-within')).toEqual([]);
  } finally {
    within.close();
  }

  // Past the window: the disconnected agent's module is inactive; the connected one is not, however old its activity.
  const beyond = sweepHarness(hub, {
    settings,
    sweeps,
    posture: system.services.posture,
    now: () => new Date(disconnectedAt + (INACTIVE_HOURS + 1) * HOUR_MS),
  });
  try {
    expect((await beyond.sweep({ sweepId: 'sw-beyond' })).status).toBe('completed');
    expect(inactiveOf('sw-beyond')).toEqual([quiet]);
  } finally {
    beyond.close();
  }
  const recorded = await system.services.posture.getLatest(quiet);
  expect(recorded?.posture).toMatchObject({
    compliant: false,
    lastSweepId: 'sw-beyond',
    findings: [expect.objectContaining({ ruleId: 'module-inactive', status: 'violation' })],
  });
});
