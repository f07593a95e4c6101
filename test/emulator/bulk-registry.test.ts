/** Bulk registry operations (`POST /devices`) through azure-iothub Registry.addDevices / updateDevices / removeDevices. */
import type { Registry } from 'azure-iothub';
import type { HubChange } from '../../emulator/hub-events';
import { startRegistryOnlyHub, type RegistryOnlyHub } from '../../testing/registry-only-hub';
import { caught } from '../support/caught';

let hub: RegistryOnlyHub;
let sdk: Registry;
const changes: HubChange[] = [];

beforeAll(async () => {
  hub = await startRegistryOnlyHub('bulk-hub');
  sdk = hub.client();
  hub.registry.onChange((change) => changes.push(change));
});

afterAll(async () => {
  await hub.stop();
});

beforeEach(() => {
  changes.length = 0;
});

interface BulkResult {
  isSuccessful: boolean;
  errors: Array<{ deviceId: string; errorCode: string; errorStatus: string }>;
  warnings: unknown[];
}

const lifecycle = (): string[] => changes.map((c) => (c.kind === 'lifecycle' ? `${c.opType}:${c.deviceId}` : c.kind));

describe('addDevices', () => {
  it('creates every device with generated keys and one lifecycle notification each', async () => {
    const { responseBody } = await sdk.addDevices([
      { deviceId: 'b-1' },
      { deviceId: 'b-2', status: 'disabled' },
      { deviceId: 'b-3', capabilities: { iotEdge: true } },
    ]);
    expect(responseBody).toEqual({ isSuccessful: true, errors: [], warnings: [] });
    expect((await sdk.get('b-2')).responseBody.status).toBe('disabled');
    expect((await sdk.get('b-3')).responseBody.capabilities?.iotEdge).toBe(true);
    expect(Buffer.from((await sdk.get('b-1')).responseBody.authentication?.symmetricKey?.primaryKey ?? '', 'base64')).toHaveLength(32);
    expect(lifecycle()).toEqual(['createDeviceIdentity:b-1', 'createDeviceIdentity:b-2', 'createDeviceIdentity:b-3']);
  });

  it('answers 400 with per-device errors and keeps the records that applied', async () => {
    await sdk.create({ deviceId: 'b-taken' });
    changes.length = 0;
    const error = await caught(() => sdk.addDevices([{ deviceId: 'b-taken' }, { deviceId: 'b-new' }, { deviceId: 'bad/id' }]));
    expect(error.name).toBe('ArgumentError');
    expect(error.response?.statusCode).toBe(400);
    const result = JSON.parse(error.responseBody ?? '{}') as BulkResult;
    expect(result.isSuccessful).toBe(false);
    expect(result.errors.map((e) => [e.deviceId, e.errorCode])).toEqual([
      ['b-taken', 'DeviceAlreadyExists'],
      ['bad/id', 'ArgumentInvalid'],
    ]);
    expect(result.errors[0]?.errorStatus).toContain('b-taken');
    expect(hub.registry.findTwin('b-new')).toBeDefined();
    expect(lifecycle()).toEqual(['createDeviceIdentity:b-new']);
  });

  it('refuses a request that names a device twice, applying nothing', async () => {
    const error = await caught(() => sdk.addDevices([{ deviceId: 'b-dup' }, { deviceId: 'b-dup' }]));
    expect(error.response?.statusCode).toBe(400);
    expect(error.message).toContain("Device 'b-dup' appears more than once");
    expect(hub.registry.findTwin('b-dup')).toBeUndefined();
  });
});

describe('updateDevices', () => {
  it('with forceUpdate false honours each etag: a stale one fails that device only', async () => {
    await sdk.addDevices([{ deviceId: 'u-1' }, { deviceId: 'u-2' }]);
    const first = (await sdk.get('u-1')).responseBody;
    const second = (await sdk.get('u-2')).responseBody;
    await sdk.update({ ...second, status: 'disabled' });
    const error = await caught(() =>
      sdk.updateDevices(
        [
          { ...first, status: 'disabled', statusReason: 'retired' },
          { ...second, status: 'enabled' },
        ],
        false,
      ),
    );
    const result = JSON.parse(error.responseBody ?? '{}') as BulkResult;
    expect(result.errors.map((e) => [e.deviceId, e.errorCode])).toEqual([['u-2', 'PreconditionFailed']]);
    expect((await sdk.get('u-1')).responseBody.statusReason).toBe('retired');
    expect((await sdk.get('u-2')).responseBody.status).toBe('disabled');
  });

  it('with forceUpdate true ignores etags, and reports devices that do not exist', async () => {
    const stale = (await sdk.get('u-2')).responseBody;
    await sdk.update({ ...stale, statusReason: 'moved' });
    const ok = await sdk.updateDevices([{ ...stale, status: 'enabled' }], true);
    expect((ok.responseBody as unknown as BulkResult).isSuccessful).toBe(true);
    expect((await sdk.get('u-2')).responseBody.status).toBe('enabled');
    const error = await caught(() => sdk.updateDevices([{ deviceId: 'u-missing' }], true));
    expect((JSON.parse(error.responseBody ?? '{}') as BulkResult).errors[0]?.errorCode).toBe('DeviceNotFound');
  });
});

describe('removeDevices', () => {
  it('deletes with or without etags and notifies each deletion', async () => {
    await sdk.addDevices([{ deviceId: 'r-1' }, { deviceId: 'r-2' }, { deviceId: 'r-3' }]);
    const r3 = (await sdk.get('r-3')).responseBody;
    await sdk.update({ ...r3, statusReason: 'changed' });
    changes.length = 0;
    await sdk.removeDevices([{ deviceId: 'r-1' }, { deviceId: 'r-2' }], true);
    expect(lifecycle()).toEqual(['deleteDeviceIdentity:r-1', 'deleteDeviceIdentity:r-2']);
    const error = await caught(() => sdk.removeDevices([r3], false));
    expect((JSON.parse(error.responseBody ?? '{}') as BulkResult).errors.map((e) => e.errorCode)).toEqual(['PreconditionFailed']);
    expect(hub.registry.findTwin('r-3')).toBeDefined();
    const current = (await sdk.get('r-3')).responseBody;
    await sdk.removeDevices([current], false);
    expect(hub.registry.findTwin('r-3')).toBeUndefined();
  });
});

describe('the azure-iot-sdk-node e2e flow (e2etests/test/registry.js "bulk Identity add/update/remove")', () => {
  it('adds disabled devices with keys, enables them with status-only records, removes them', async () => {
    const key = (text: string) => Buffer.from(text).toString('base64');
    const ids = ['e2e-1', 'e2e-2', 'e2e-3'];
    const added = await sdk.addDevices(
      ids.map((deviceId) => ({
        deviceId,
        status: 'disabled',
        authentication: {
          symmetricKey: {
            primaryKey: key(`${deviceId}-primary-0123456789abcdef`),
            secondaryKey: key(`${deviceId}-secondary-0123456789abcdef`),
          },
        },
      })),
    );
    expect(added.responseBody as unknown as BulkResult).toMatchObject({ isSuccessful: true, errors: [] });
    const updated = await sdk.updateDevices(
      ids.map((deviceId) => ({ deviceId, status: 'enabled' })),
      true,
    );
    expect((updated.responseBody as unknown as BulkResult).errors).toHaveLength(0);
    for (const deviceId of ids) {
      const device = (await sdk.get(deviceId)).responseBody;
      expect(device.status).toBe('enabled');
      expect(device.authentication?.symmetricKey?.primaryKey).toBe(key(`${deviceId}-primary-0123456789abcdef`));
    }
    await sdk.removeDevices(
      ids.map((deviceId) => ({ deviceId })),
      true,
    );
    for (const deviceId of ids) expect((await caught(() => sdk.get(deviceId))).name).toBe('DeviceNotFoundError');
  });
});
