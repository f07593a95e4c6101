/**
 * `npm start`'s embedded default (host/embedded.ts) with its security agents on the device side: the demo creates
 * devices through azure-iothub, TwinGuard creates their modules, and each module's agent connects to the emulator's
 * MQTT endpoint as that module (a SAS module with its keys, a CA module with a device-policy token) and reports;
 * the posture API shows the result. The banner's device-side lines name the MQTT port.
 */
import { DEMO_BASELINE, EmbeddedTwinGuard } from '../../host/embedded';
import type { Logger } from '../../shared/logger';
import { eventually } from '../../testing/eventually';
import { runPreloaded } from '../fixtures/connect/run-preloaded';

const MODULE = 'DefenderIotMicroAgent';
const lines: string[] = [];
const logger: Logger = {
  debug: () => undefined,
  info: (message) => lines.push(message),
  warn: (message) => lines.push(message),
  error: (message) => lines.push(message),
};

let system: EmbeddedTwinGuard;

beforeAll(async () => {
  system = await EmbeddedTwinGuard.start({ seedDevices: 5, demoDevices: 4, demoIntervalMs: 100, httpPort: 0, logger });
});

afterAll(async () => {
  await system?.stop();
});

async function posture(deviceId: string): Promise<{ agentState?: string; configurationState?: string; authType?: string } | undefined> {
  const response = await fetch(`${system.host.httpUrl}/api/devices/${encodeURIComponent(deviceId)}/posture`, {
    headers: { 'x-functions-key': system.functionKey },
  });
  if (response.status !== 200) return undefined;
  return (await response.json()) as { agentState?: string; configurationState?: string; authType?: string };
}

it('demo devices get modules whose agents connect over MQTT and report; the banner names the MQTT port', async () => {
  expect(system.deviceSideLines().join('\n')).toContain(`IOTHUB_MQTT_PORT=${system.hub.mqttPort}`);
  system.startDemo();
  // demo-sensor-01/02 are SAS devices, demo-sensor-04 a CA device (its module has no keys).
  for (const deviceId of ['demo-sensor-01', 'demo-sensor-02', 'demo-sensor-04']) {
    const latest = await eventually(
      async () => {
        const current = await posture(deviceId);
        return current?.agentState === 'success' && current.configurationState === 'inSync' ? current : undefined;
      },
      30_000,
      `an in-sync agent report for ${deviceId}`,
    );
    expect(system.hub.mqtt.isConnected(deviceId, MODULE)).toBe(true);
    expect(latest.authType).toBe(deviceId === 'demo-sensor-04' ? 'certificateAuthority' : 'sas');
  }
  // demo-sensor-03's agent is told to reject Process_Mode: it connects and reports the failure.
  await eventually(async () => (await posture('demo-sensor-03'))?.agentState === 'failed', 30_000, 'the rejecting agent to report');
  const twin = system.hub.registry.getTwin('demo-sensor-01', MODULE) as unknown as {
    connectionState: string;
    properties: { reported: Record<string, unknown> };
  };
  expect(twin.connectionState).toBe('Connected');
  expect(twin.properties.reported).toMatchObject({ ...DEMO_BASELINE, latest_state: 'success' });
  expect(lines.filter((line) => line === `hub: ${MODULE} agent connected over MQTT`).length).toBeGreaterThanOrEqual(4);
});

it('an unchanged azure-iothub script reaches npm start through the preload, and TwinGuard covers the device it made', async () => {
  expect(system.hub.connectSetting).toBeDefined();
  expect(system.unchangedScriptLines().join('\n')).toContain(`IOTHUB_EMULATOR_CONNECT=${system.hub.connectSetting}`);
  const run = await runPreloaded('registry-create-get.js', ['operator-script-01'], {
    IOTHUB_EMULATOR_CONNECT: system.hub.connectSetting,
    IOTHUB_CONNECTION_STRING: system.hub.serviceConnectionString,
  });
  expect(run).toMatchObject({ exitCode: 0, result: { deviceId: 'operator-script-01', status: 'enabled' } });
  await eventually(
    async () => (await posture('operator-script-01'))?.agentState === 'success',
    30_000,
    'the script-made device’s module and agent report',
  );
});
