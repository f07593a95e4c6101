/**
 * Automatic configurations survive an emulator restart with `dataFile` (emulator/persistence.ts): the records keep
 * their etags and times, later etags are new, and a twin's applied configuration is not written again after the
 * restart (its `configurations` status is part of the saved twin).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HubChange } from '../../emulator/hub-events';
import { IotHubEmulator } from '../../emulator/index';
import { closeRegistryClient, createRegistryClient } from '../../shared/adapters/registry-client';

let dir = '';

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'twinguard-adm-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function withHub<T>(
  dataFile: string,
  use: (hub: IotHubEmulator, sdk: ReturnType<typeof createRegistryClient>) => Promise<T>,
): Promise<T> {
  const hub = await IotHubEmulator.start({ dataFile, configurations: { evaluationIntervalMs: 0 } });
  const sdk = createRegistryClient({ connectionString: hub.serviceConnectionString, serviceEndpoint: hub.registryUrl });
  try {
    return await use(hub, sdk);
  } finally {
    closeRegistryClient(sdk);
    await hub.save();
    await hub.stop();
  }
}

test('a restart keeps configurations, their etags and what they applied', async () => {
  const file = join(dir, 'state.json');
  const saved = await withHub(file, async (hub, sdk) => {
    hub.registry.createDevice({ deviceId: 'd1', tags: { env: 'prod' } });
    await sdk.addConfiguration({
      id: 'kept',
      schemaVersion: '1.0',
      priority: 2,
      targetCondition: "tags.env = 'prod'",
      labels: { owner: 'ops' },
      content: { deviceContent: { 'properties.desired.mode': 'managed' } },
    });
    return (await sdk.getConfiguration('kept')).responseBody;
  });

  await withHub(file, async (hub, sdk) => {
    const changes: HubChange[] = [];
    const detach = hub.registry.onChange((change) => changes.push(change));
    hub.configurations.evaluate();
    detach();
    const restored = (await sdk.getConfiguration('kept')).responseBody;
    expect(restored).toEqual(saved);
    expect(changes).toEqual([]);
    const twin = (await sdk.getTwin('d1')).responseBody as unknown as Record<string, unknown>;
    expect(twin['configurations']).toEqual({ kept: { status: 'Applied' } });
    const added: { responseBody: { etag?: string } } = await sdk.addConfiguration({
      id: 'next',
      schemaVersion: '1.0',
      targetCondition: '',
      content: { deviceContent: { 'properties.desired.x': 1 } },
    });
    expect(added.responseBody.etag).not.toBe(saved.etag);
  });
});
