/**
 * The facade end to end on the registry side: seeding, the simulated security agent reacting to
 * module creation and desired changes made through the SDK, and save/load of state.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IotHubEmulator } from '../../emulator/index';
import { closeRegistryClient, createRegistryClient } from '../../shared/adapters/registry-client';

let emulator: IotHubEmulator;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'twinguard-emu-'));
  emulator = await IotHubEmulator.start({ seed: { devices: 1000 }, agent: { defaultMode: 'healthy', reportDelayMs: 0 } });
});

afterAll(async () => {
  await emulator.stop();
  await rm(dir, { recursive: true, force: true });
});

function client() {
  return createRegistryClient({ connectionString: emulator.serviceConnectionString, serviceEndpoint: emulator.registryUrl });
}

it('seeds a deterministic mix without notifications', () => {
  expect(emulator.registry.deviceCount).toBe(1000);
  expect(emulator.seeded.modules).toBeGreaterThan(200);
  expect(emulator.seeded.modules).toBeLessThan(400);
  expect(emulator.seeded.edge).toBeGreaterThan(10);
  const page = emulator.registry.query("SELECT deviceId FROM devices WHERE deviceId = 'odd-#?%+;$\\'()!*,=@:._-7'");
  expect(page.items).toHaveLength(1);
  expect(emulator.events.stats.published).toBe(0);
  expect(emulator.hostName).toBe('twinguard-emulator.azure-devices.net');
  expect(emulator.eventHubConnectionString).toContain(`EntityPath=${emulator.eventHubName}`);
});

it('the simulated micro agent reports success, rejection and silence', async () => {
  const sdk = client();
  try {
    await sdk.create({ deviceId: 'agent-ok' });
    await sdk.addModule({ deviceId: 'agent-ok', moduleId: 'DefenderIotMicroAgent' });
    await emulator.agents.whenIdle();
    let twin = (await sdk.getModuleTwin('agent-ok', 'DefenderIotMicroAgent')).responseBody;
    expect(twin.properties.reported).toMatchObject({
      latest_state: 'success',
      latest_invalid_fields: [],
      CollectorsCore_PriorityIntervals: '30,120,1440',
    });

    await sdk.updateModuleTwin('agent-ok', 'DefenderIotMicroAgent', { properties: { desired: { Process_MessageFrequency: 'High' } } }, '*');
    await emulator.agents.whenIdle();
    twin = (await sdk.getModuleTwin('agent-ok', 'DefenderIotMicroAgent')).responseBody;
    expect(twin.properties.reported).toMatchObject({ latest_state: 'success', Process_MessageFrequency: 'High' });

    emulator.agents.setMode('agent-ok', 'rejectConfiguration', { rejectKeys: ['Login_Disabled'] });
    await sdk.updateModuleTwin(
      'agent-ok',
      'DefenderIotMicroAgent',
      { properties: { desired: { Login_Disabled: true, Process_MessageFrequency: 'Low' } } },
      '*',
    );
    await emulator.agents.whenIdle();
    twin = (await sdk.getModuleTwin('agent-ok', 'DefenderIotMicroAgent')).responseBody;
    expect(twin.properties.reported).toMatchObject({
      latest_state: 'failed',
      latest_invalid_fields: ['Login_Disabled'],
      Process_MessageFrequency: 'High',
    });

    await sdk.create({ deviceId: 'agent-silent' });
    emulator.agents.setMode('agent-silent', 'silent');
    await sdk.addModule({ deviceId: 'agent-silent', moduleId: 'azureiotsecurity' });
    await emulator.agents.whenIdle();
    twin = (await sdk.getModuleTwin('agent-silent', 'azureiotsecurity')).responseBody;
    expect(twin.properties.reported).toEqual({ $metadata: { $lastUpdated: '0001-01-01T00:00:00Z' }, $version: 1 });

    emulator.agents.setMode('agent-silent', 'healthy');
    const key = 'azureiot*com^securityAgentConfiguration^1*0*0';
    await sdk.updateModuleTwin(
      'agent-silent',
      'azureiotsecurity',
      { properties: { desired: { [key]: { snapshotFrequency: 'PT1H' } } } },
      '*',
    );
    await emulator.agents.whenIdle();
    twin = (await sdk.getModuleTwin('agent-silent', 'azureiotsecurity')).responseBody;
    expect(twin.properties.reported[key]).toMatchObject({ snapshotFrequency: 'PT1H', highPriorityMessageFrequency: 'PT7M' });
  } finally {
    closeRegistryClient(sdk);
  }
});

it('saves state atomically and restarts from it with the same keys and twins', async () => {
  const file = join(dir, 'state.json');
  await emulator.save(file);
  const restored = await IotHubEmulator.start({ dataFile: file });
  try {
    expect(restored.serviceConnectionString).toBe(emulator.serviceConnectionString);
    expect(restored.registry.deviceCount).toBe(emulator.registry.deviceCount);
    expect(restored.registry.moduleCount).toBe(emulator.registry.moduleCount);
    expect(restored.registry.getTwin('agent-ok', 'DefenderIotMicroAgent')).toEqual(
      emulator.registry.getTwin('agent-ok', 'DefenderIotMicroAgent'),
    );
    restored.registry.createDevice({ deviceId: 'after-restore' });
    const seqPage = restored.registry.query("SELECT deviceId FROM devices WHERE deviceId = 'after-restore'");
    expect(seqPage.items).toEqual([{ deviceId: 'after-restore' }]);
  } finally {
    await restored.stop();
  }
});
