/**
 * IoT Edge device scopes through azure-iothub Registry: generated Edge scopes, leaf and child Edge devices naming an
 * Edge parent, the hub's validation, and the round trip through get, list, query, bulk create and persistence.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Registry } from 'azure-iothub';
import { loadState, saveState } from '../../emulator/persistence';
import { HubRegistry } from '../../emulator/registry/hub-registry';
import { startRegistryOnlyHub, type RegistryOnlyHub } from '../../testing/registry-only-hub';
import { caught } from '../support/caught';

type Scoped = {
  deviceId: string;
  deviceScope?: string;
  parentScopes?: string[];
  generationId?: string;
  capabilities?: { iotEdge?: boolean };
};

let hub: RegistryOnlyHub;
let sdk: Registry;

beforeAll(async () => {
  hub = await startRegistryOnlyHub('edge-hub');
  sdk = hub.client();
});

afterAll(async () => {
  await hub.stop();
});

const create = async (device: Scoped): Promise<Scoped> => (await sdk.create(device)).responseBody;
const get = async (deviceId: string): Promise<Scoped> => (await sdk.get(deviceId)).responseBody;

describe('Edge device scopes', () => {
  let top: Scoped;

  beforeAll(async () => {
    top = await create({ deviceId: 'edge-top', capabilities: { iotEdge: true } });
  });

  it('an Edge device gets ms-azure-iot-edge://{id}-{generationId}, a plain device none', async () => {
    expect(top.deviceScope).toBe(`ms-azure-iot-edge://edge-top-${top.generationId}`);
    expect(top.parentScopes).toBeUndefined();
    const plain = await create({ deviceId: 'plain' });
    expect(plain.deviceScope).toBeUndefined();
  });

  it('a leaf device names its Edge parent with deviceScope; it round-trips through get, list and query', async () => {
    const leaf = await create({ deviceId: 'leaf-1', deviceScope: top.deviceScope });
    expect(leaf.deviceScope).toBe(top.deviceScope);
    expect(leaf.parentScopes).toEqual([top.deviceScope]);
    expect(await get('leaf-1')).toMatchObject({ deviceScope: top.deviceScope, parentScopes: [top.deviceScope] });
    const listed = ((await sdk.list()).responseBody as unknown as Scoped[]).find((d) => d.deviceId === 'leaf-1');
    expect(listed?.parentScopes).toEqual([top.deviceScope]);
    const rows = (await sdk.createQuery(`SELECT deviceId FROM devices WHERE deviceScope = '${top.deviceScope}'`).next()).result as Scoped[];
    expect(rows.map((r) => r.deviceId).sort()).toEqual(['edge-top', 'leaf-1']);
    const children = (await sdk
      .createQuery(`SELECT * FROM devices WHERE ARRAY_CONTAINS(parentScopes, 'x')`)
      .next()
      .catch((e: Error) => e)) as Error;
    expect(children.message).toContain("Function 'ARRAY_CONTAINS'");
  });

  it('a child Edge device keeps its own scope and lists the parent in parentScopes', async () => {
    const child = await create({ deviceId: 'edge-child', capabilities: { iotEdge: true }, parentScopes: [top.deviceScope as string] });
    expect(child.deviceScope).toBe(`ms-azure-iot-edge://edge-child-${child.generationId}`);
    expect(child.parentScopes).toEqual([top.deviceScope]);
  });

  it('an update that sends the device back unchanged keeps its scopes; clearing the scope detaches a leaf', async () => {
    const leaf = await get('leaf-1');
    const updated = (await sdk.update({ ...leaf, status: 'disabled' })).responseBody as Scoped;
    expect(updated.parentScopes).toEqual([top.deviceScope]);
    const detached = (await sdk.update({ ...updated, deviceScope: '', parentScopes: [] })).responseBody as Scoped;
    expect(detached.deviceScope).toBeUndefined();
    expect(detached.parentScopes).toBeUndefined();
  });

  it.each<[string, () => Scoped]>([
    ['a scope of a non-Edge device', () => ({ deviceId: 'bad-1', deviceScope: 'ms-azure-iot-edge://plain-637000000000000000' })],
    ['a scope no device has', () => ({ deviceId: 'bad-2', deviceScope: 'ms-azure-iot-edge://ghost-637000000000000000' })],
    ['a stale scope of an existing Edge device', () => ({ deviceId: 'bad-3', deviceScope: 'ms-azure-iot-edge://edge-top-1' })],
    ['two parents', () => ({ deviceId: 'bad-4', parentScopes: [top.deviceScope as string, top.deviceScope as string] })],
    ['a chosen scope on an Edge device', () => ({ deviceId: 'bad-5', capabilities: { iotEdge: true }, deviceScope: top.deviceScope })],
  ])('refuses %s with 400', async (_what, device) => {
    const error = await caught(() => create(device()));
    expect(error.name).toBe('ArgumentError');
    expect(error.response?.statusCode).toBe(400);
    expect(hub.registry.findTwin(device().deviceId)).toBeUndefined();
  });

  it('refuses an Edge hierarchy deeper than five layers below its top device', async () => {
    let parent = await create({ deviceId: 'layer-0', capabilities: { iotEdge: true } });
    for (let layer = 1; layer <= 5; layer++) {
      parent = await create({ deviceId: `layer-${layer}`, capabilities: { iotEdge: true }, parentScopes: [parent.deviceScope as string] });
    }
    const error = await caught(() =>
      create({ deviceId: 'layer-6', capabilities: { iotEdge: true }, parentScopes: [parent.deviceScope as string] }),
    );
    expect(error.response?.statusCode).toBe(400);
    expect(error.message).toContain('at most 5 layers');
    // A leaf device below the deepest layer is fine: the limit counts Edge layers.
    expect((await create({ deviceId: 'layer-leaf', deviceScope: parent.deviceScope })).parentScopes).toEqual([parent.deviceScope]);
  });

  it('addDevices carries scopes, and they survive save and load', async () => {
    const { responseBody } = await sdk.addDevices([{ deviceId: 'bulk-leaf', deviceScope: top.deviceScope }]);
    expect((responseBody as unknown as { isSuccessful: boolean }).isSuccessful).toBe(true);
    expect((await get('bulk-leaf')).parentScopes).toEqual([top.deviceScope]);
    const dir = await mkdtemp(join(tmpdir(), 'edge-scopes-'));
    try {
      await saveState(join(dir, 'state.json'), { hubName: 'edge-hub', policies: [] }, hub.registry);
      const restored = new HubRegistry();
      await loadState(join(dir, 'state.json'), restored);
      expect(restored.getDevice('bulk-leaf')).toMatchObject({ deviceScope: top.deviceScope, parentScopes: [top.deviceScope] });
      expect(restored.getDevice('edge-top').deviceScope).toBe(top.deviceScope);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('capability changes', () => {
  it('a device that stops being Edge drops its own scope, and its scope then refuses children', async () => {
    const former = await create({ deviceId: 'was-edge', capabilities: { iotEdge: true } });
    const scope = former.deviceScope as string;
    const updated = (await sdk.update({ ...(await get('was-edge')), capabilities: { iotEdge: false } })).responseBody as Scoped;
    expect(updated.deviceScope).toBeUndefined();
    const error = await caught(() => create({ deviceId: 'orphan', deviceScope: scope }));
    expect(error.response?.statusCode).toBe(400);
  });
});
