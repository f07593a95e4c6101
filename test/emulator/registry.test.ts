/**
 * Fidelity of the emulated registry, driven only through the real azure-iothub SDK over HTTP via the
 * production seam (createRegistryClient with serviceEndpoint).
 */
import type { Module, Registry } from 'azure-iothub';
import type { HubChange } from '../../emulator/hub-events';
import { startRegistryOnlyHub, type RegistryOnlyHub } from '../../testing/registry-only-hub';
import { caught } from '../support/caught';

let hub: RegistryOnlyHub;
let sdk: Registry;
const changes: HubChange[] = [];

beforeAll(async () => {
  hub = await startRegistryOnlyHub();
  sdk = hub.client();
  hub.registry.onChange((change) => changes.push(change));
});

afterAll(async () => {
  await hub.stop();
});

beforeEach(() => {
  changes.length = 0;
  hub.faults.reset();
});

const ODD_ID = "dev-#?%+;$'()!*,=@:._";
const LONG_ID = `L${'x'.repeat(126)}!`;

describe('devices', () => {
  it('creates with generated SAS keys, gets, updates and deletes', async () => {
    const created = (await sdk.create({ deviceId: 'd-crud' })).responseBody;
    expect(created.deviceId).toBe('d-crud');
    expect(Buffer.from(created.authentication?.symmetricKey?.primaryKey ?? '', 'base64')).toHaveLength(32);
    expect(created.authentication?.symmetricKey?.secondaryKey).not.toBe(created.authentication?.symmetricKey?.primaryKey);
    expect(created.status).toBe('enabled');
    expect(created.connectionState).toBe('Disconnected');
    expect(created.capabilities?.iotEdge).toBe(false);

    const fetched = (await sdk.get('d-crud')).responseBody;
    expect(fetched.etag).toBe(created.etag);
    expect(fetched.generationId).toBe(created.generationId);

    const updated = (await sdk.update({ ...fetched, status: 'disabled', statusReason: 'maintenance' })).responseBody;
    expect(updated.status).toBe('disabled');
    expect(updated.statusReason).toBe('maintenance');
    expect(updated.etag).not.toBe(created.etag);
    expect(updated.authentication?.symmetricKey?.primaryKey).toBe(created.authentication?.symmetricKey?.primaryKey);
    expect(((await sdk.getTwin('d-crud')).responseBody as unknown as Record<string, unknown>).status).toBe('disabled');

    await sdk.delete('d-crud');
    const error = await caught(() => sdk.get('d-crud'));
    expect(error.name).toBe('DeviceNotFoundError');
    expect(error.response?.statusCode).toBe(404);
    expect(changes.map((c) => `${c.kind}:${c.kind === 'connectionState' ? '' : c.opType}`)).toEqual([
      'lifecycle:createDeviceIdentity',
      'lifecycle:deleteDeviceIdentity',
    ]);
  });

  it('supports edge, selfSigned and certificateAuthority devices', async () => {
    const edge = (await sdk.create({ deviceId: 'd-edge', capabilities: { iotEdge: true } })).responseBody;
    expect(edge.capabilities?.iotEdge).toBe(true);
    const selfSigned = (
      await sdk.create({ deviceId: 'd-x509', authentication: { x509Thumbprint: { primaryThumbprint: 'AB'.repeat(20) } } })
    ).responseBody;
    expect((selfSigned.authentication as { type?: string }).type).toBe('selfSigned');
    const twin = (await sdk.getTwin('d-x509')).responseBody as unknown as {
      authenticationType: string;
      x509Thumbprint: { primaryThumbprint: string };
    };
    expect(twin.authenticationType).toBe('selfSigned');
    expect(twin.x509Thumbprint.primaryThumbprint).toBe('AB'.repeat(20));
    const ca = (await sdk.create({ deviceId: 'd-ca', authentication: { type: 'certificateAuthority' } })).responseBody;
    expect((ca.authentication as { type?: string }).type).toBe('certificateAuthority');
  });

  it('answers 409 DeviceAlreadyExists on a duplicate create and lists devices', async () => {
    await sdk.create({ deviceId: 'd-dup' });
    const error = await caught(() => sdk.create({ deviceId: 'd-dup' }));
    expect(error.name).toBe('DeviceAlreadyExistsError');
    expect(error.response?.statusCode).toBe(409);
    const list = (await sdk.list()).responseBody;
    expect(list.map((d) => d.deviceId)).toContain('d-dup');
  });

  it('rejects illegal IDs with 400 and accepts every legal special character and 128 chars', async () => {
    const bad = await caught(() => sdk.create({ deviceId: 'has space' }));
    expect(bad.name).toBe('ArgumentError');
    const tooLong = await caught(() => sdk.create({ deviceId: `${LONG_ID}z` }));
    expect(tooLong.response?.statusCode).toBe(400);
    for (const id of [ODD_ID, LONG_ID, 'plus+percent%25']) {
      expect((await sdk.create({ deviceId: id })).responseBody.deviceId).toBe(id);
      expect((await sdk.get(id)).responseBody.deviceId).toBe(id);
      expect((await sdk.getTwin(id)).responseBody.deviceId).toBe(id);
    }
    await sdk.addModule({ deviceId: ODD_ID, moduleId: ODD_ID });
    expect((await sdk.getModule(ODD_ID, ODD_ID)).responseBody.moduleId).toBe(ODD_ID);
    expect((await sdk.getModuleTwin(ODD_ID, ODD_ID)).responseBody.moduleId).toBe(ODD_ID);
    const escaped = ODD_ID.replace(/'/g, "\\'");
    const query = sdk.createQuery(`SELECT deviceId, moduleId FROM devices.modules WHERE deviceId = '${escaped}'`, 10);
    const page = await query.next();
    expect(page.result).toEqual([{ deviceId: ODD_ID, moduleId: ODD_ID }]);
    expect(hub.registry.findTwin('plus+percent%25')).toBeDefined();
  });
});

describe('modules', () => {
  beforeAll(async () => {
    await sdk.create({ deviceId: 'm-host' });
  });

  it('creates with generated keys, gets, lists, updates and removes', async () => {
    const created = (await sdk.addModule({ deviceId: 'm-host', moduleId: 'DefenderIotMicroAgent' })).responseBody as unknown as Record<
      string,
      unknown
    >;
    const auth = created.authentication as { symmetricKey: { primaryKey: string } };
    expect(Buffer.from(auth.symmetricKey.primaryKey, 'base64')).toHaveLength(32);
    expect(created).toMatchObject({
      deviceId: 'm-host',
      moduleId: 'DefenderIotMicroAgent',
      managedBy: null,
      connectionState: 'Disconnected',
      cloudToDeviceMessageCount: 0,
    });
    const fetched = (await sdk.getModule('m-host', 'DefenderIotMicroAgent')).responseBody;
    expect(fetched.etag).toBe(created.etag);
    const list = (await sdk.getModulesOnDevice('m-host')).responseBody;
    expect(list.map((m) => m.moduleId)).toEqual(['DefenderIotMicroAgent']);

    const updated = (await sdk.updateModule({ ...fetched, managedBy: 'twinguard' })).responseBody as Module;
    expect(updated.managedBy).toBe('twinguard');
    const stale = await caught(() => sdk.updateModule({ ...fetched, managedBy: 'other' }));
    expect(stale.name).toBe('InvalidEtagError');
    expect(((await sdk.updateModule({ ...fetched, managedBy: 'forced' }, true)).responseBody as Module).managedBy).toBe('forced');

    await sdk.removeModule('m-host', 'DefenderIotMicroAgent');
    const missing = await caught(() => sdk.getModule('m-host', 'DefenderIotMicroAgent'));
    expect(missing.message).toBe('Not found');
    expect(missing.response?.statusCode).toBe(404);
    expect((JSON.parse(missing.responseBody ?? '{}') as { Message?: string }).Message).toMatch(/^ErrorCode:ModuleNotFound;/);
    const moduleChanges = changes.filter((c) => c.moduleId === 'DefenderIotMicroAgent');
    expect(moduleChanges.map((c) => (c.kind === 'lifecycle' ? c.opType : c.kind))).toEqual([
      'createDeviceIdentity',
      'deleteDeviceIdentity',
    ]);
  });

  it('maps duplicate modules to DeviceAlreadyExistsError and missing devices to DeviceNotFoundError', async () => {
    await sdk.addModule({ deviceId: 'm-host', moduleId: 'dup' });
    const duplicate = await caught(() => sdk.addModule({ deviceId: 'm-host', moduleId: 'dup' }));
    expect(duplicate.name).toBe('DeviceAlreadyExistsError');
    expect((JSON.parse(duplicate.responseBody ?? '{}') as { Message?: string }).Message).toMatch(/^ErrorCode:ModuleAlreadyExistsOnDevice;/);
    const noDevice = await caught(() => sdk.addModule({ deviceId: 'nobody', moduleId: 'm' }));
    expect(noDevice.name).toBe('DeviceNotFoundError');
  });

  it('limits a device to 50 modules', async () => {
    await sdk.create({ deviceId: 'm-full' });
    for (let i = 0; i < 50; i++) hub.registry.createModule({ deviceId: 'm-full', moduleId: `m${i}` });
    const error = await caught(() => sdk.addModule({ deviceId: 'm-full', moduleId: 'one-too-many' }));
    expect(error.response?.statusCode).toBe(413);
    expect((JSON.parse(error.responseBody ?? '{}') as { Message?: string }).Message).toMatch(/^ErrorCode:TooManyModulesOnDevice;/);
  });

  it('deletes a device with its modules and emits only the device delete', async () => {
    await sdk.create({ deviceId: 'm-cascade' });
    await sdk.addModule({ deviceId: 'm-cascade', moduleId: 'a' });
    changes.length = 0;
    await sdk.delete('m-cascade');
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ kind: 'lifecycle', opType: 'deleteDeviceIdentity', deviceId: 'm-cascade' });
    expect(changes[0]?.moduleId).toBeUndefined();
    expect(hub.registry.findTwin('m-cascade', 'a')).toBeUndefined();
  });
});

describe('twins', () => {
  beforeAll(async () => {
    await sdk.create({ deviceId: 't-dev' });
    await sdk.addModule({ deviceId: 't-dev', moduleId: 'sec' });
  });

  it('returns the twin document shape', async () => {
    const twin = (await sdk.getTwin('t-dev')).responseBody as unknown as Record<string, unknown>;
    expect(Object.keys(twin)).toEqual(
      expect.arrayContaining([
        'deviceId',
        'etag',
        'deviceEtag',
        'status',
        'statusUpdateTime',
        'connectionState',
        'lastActivityTime',
        'cloudToDeviceMessageCount',
        'authenticationType',
        'x509Thumbprint',
        'modelId',
        'version',
        'properties',
        'capabilities',
      ]),
    );
    const moduleTwin = (await sdk.getModuleTwin('t-dev', 'sec')).responseBody;
    expect(moduleTwin.moduleId).toBe('sec');
    expect(moduleTwin.properties.desired).toEqual({ $metadata: { $lastUpdated: '0001-01-01T00:00:00Z' }, $version: 1 });
  });

  it('patches tags and desired with etag, quoted * and stale etag semantics', async () => {
    const before = (await sdk.getModuleTwin('t-dev', 'sec')).responseBody;
    const first = (
      await sdk.updateModuleTwin(
        't-dev',
        'sec',
        { tags: { env: 'prod', gone: 1 }, properties: { desired: { a: 1, nested: { x: 1, y: 2 } } } },
        before.etag,
      )
    ).responseBody;
    expect(first.etag).not.toBe(before.etag);
    const firstDoc = first as unknown as { version: number };
    expect(firstDoc.version).toBe((before as unknown as { version: number }).version + 1);
    expect(first.properties.desired).toMatchObject({ a: 1, nested: { x: 1, y: 2 }, $version: 2 });
    const meta = first.properties.desired.$metadata as Record<string, Record<string, unknown>>;
    expect(meta.$lastUpdatedVersion).toBe(2);
    expect(meta.a?.$lastUpdatedVersion).toBe(2);
    expect(meta.nested?.x).toMatchObject({ $lastUpdatedVersion: 2 });

    const stale = await caught(() => sdk.updateModuleTwin('t-dev', 'sec', { tags: { env: 'dev' } }, before.etag));
    expect(stale.name).toBe('InvalidEtagError');
    expect(stale.response?.statusCode).toBe(412);

    const forced = (
      await sdk.updateModuleTwin('t-dev', 'sec', { tags: { gone: null }, properties: { desired: { nested: { y: null }, a: null } } }, '*')
    ).responseBody;
    expect(forced.tags).toEqual({ env: 'prod' });
    expect(forced.properties.desired).toMatchObject({ nested: { x: 1 }, $version: 3 });
    expect(forced.properties.desired.a).toBeUndefined();
    expect((forced.properties.desired.$metadata as Record<string, unknown>).a).toBeUndefined();

    const deviceTwin = (await sdk.getTwin('t-dev')).responseBody;
    const deviceUpdated = (await sdk.updateTwin('t-dev', { tags: { site: 'x' } }, deviceTwin.etag)).responseBody;
    expect(deviceUpdated.tags).toEqual({ site: 'x' });
  });

  it('emits twinChange bodies with all tags and the whole desired section, no reported', async () => {
    const twin = (await sdk.getModuleTwin('t-dev', 'sec')).responseBody;
    changes.length = 0;
    await sdk.updateModuleTwin('t-dev', 'sec', { properties: { desired: { b: 'new' } } }, twin.etag);
    expect(changes).toHaveLength(1);
    const change = changes[0];
    if (change?.kind !== 'twinChange') throw new Error('expected a twinChange');
    expect(change.opType).toBe('updateTwin');
    expect(change.moduleId).toBe('sec');
    const body = change.body as { version: number; tags: unknown; properties: { desired: Record<string, unknown>; reported?: unknown } };
    expect(Object.keys(body).sort()).toEqual(['properties', 'tags', 'version']);
    expect(body.tags).toEqual({ env: 'prod' });
    expect(body.properties.reported).toBeUndefined();
    expect(body.properties.desired).toMatchObject({ b: 'new', nested: { x: 1 }, $version: 4 });
    expect(body.properties.desired.$metadata).toMatchObject({ $lastUpdatedVersion: 4, b: { $lastUpdatedVersion: 4 } });
  });

  it('emits a reported-only body for a device-side patch, like the hub', () => {
    changes.length = 0;
    const before = hub.registry.getTwin('t-dev', 'sec');
    hub.registry.updateReported('t-dev', 'sec', { color: 'Blue' });
    const change = changes[0];
    if (change?.kind !== 'twinChange') throw new Error('expected a twinChange');
    const body = change.body as { version: number; properties: { reported: Record<string, unknown> } };
    expect(body.version).toBe(before.version + 1);
    expect(Object.keys(body)).toEqual(['version', 'properties']);
    expect(Object.keys(body.properties)).toEqual(['reported']);
    expect(body.properties.reported).toMatchObject({ color: 'Blue', $version: 2 });
    const meta = body.properties.reported.$metadata as Record<string, Record<string, unknown>>;
    expect(meta.$lastUpdated).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
    expect(meta.color).toEqual({ $lastUpdated: meta.$lastUpdated });
    expect(hub.registry.getTwin('t-dev', 'sec').etag).not.toBe(before.etag);
  });

  it('rejects reported properties in a service patch with 400', async () => {
    const error = await caught(() => sdk.updateModuleTwin('t-dev', 'sec', { properties: { reported: { x: 1 } } }, '*'));
    expect(error.name).toBe('ArgumentError');
  });
});

describe('queries', () => {
  beforeAll(async () => {
    for (let i = 0; i < 7; i++) {
      await sdk.create({ deviceId: `q-${i}` });
      await sdk.addModule({ deviceId: `q-${i}`, moduleId: 'DefenderIotMicroAgent' });
      await sdk.updateTwin(`q-${i}`, { tags: { environment: i % 2 === 0 ? 'prod' : 'dev' } }, '*');
    }
  });

  it('pages with nextAsTwin until hasMoreResults is false, over devices and devices.modules', async () => {
    const query = sdk.createQuery(
      "SELECT * FROM devices WHERE tags.environment = 'prod' AND STARTS_LIKE_NOTHING = 1 OR tags.environment = 'prod'",
      2,
    );
    const ids: string[] = [];
    let pages = 0;
    while (query.hasMoreResults) {
      const page = await query.nextAsTwin();
      pages++;
      ids.push(...page.result.map((twin) => twin.deviceId));
    }
    expect(ids).toEqual(['q-0', 'q-2', 'q-4', 'q-6']);
    expect(pages).toBe(2);

    const modules = sdk.createQuery(
      "SELECT * FROM devices.modules WHERE moduleId = 'DefenderIotMicroAgent' AND STARTSWITH_IS_NOT_A_PATH = 'x' OR moduleId = 'DefenderIotMicroAgent'",
      3,
    );
    const moduleTwins: string[] = [];
    while (modules.hasMoreResults)
      moduleTwins.push(...(await modules.nextAsTwin()).result.map((twin) => `${twin.deviceId}/${twin.moduleId}`));
    expect(moduleTwins.filter((id) => id.startsWith('q-'))).toHaveLength(7);
    expect(new Set(moduleTwins).size).toBe(moduleTwins.length);
  });

  it('projects fields by their last path segment', async () => {
    const page = await sdk.createQuery("SELECT deviceId, tags.environment FROM devices WHERE deviceId = 'q-1'").next();
    expect(page.result).toEqual([{ deviceId: 'q-1', environment: 'dev' }]);
    expect(page.message.headers['x-ms-continuation']).toBeUndefined();
  });

  it('answers unsupported syntax with ArgumentError and a message naming it', async () => {
    const error = await caught(() => sdk.createQuery('SELECT deviceId FROM devices GROUP BY tags.environment').next());
    expect(error.name).toBe('ArgumentError');
    expect(error.message).toMatch(/GROUP/);
    const fn = await caught(() => sdk.createQuery("SELECT * FROM devices WHERE STARTSWITH(deviceId, 'q')").next());
    expect(fn.message).toMatch(/STARTSWITH.*not supported/);
  });
});

describe('auth and faults', () => {
  it('answers 401 UnauthorizedError for a wrong key and for a policy lacking the right', async () => {
    const wrong = hub.client('iothubowner', Buffer.alloc(32, 7).toString('base64'));
    const error = await caught(() => wrong.get('q-0'));
    expect(error.name).toBe('UnauthorizedError');
    expect(error.response?.statusCode).toBe(401);
    const serviceOnly = hub.client('service');
    const denied = await caught(() => serviceOnly.create({ deviceId: 'nope' }));
    expect(denied.name).toBe('UnauthorizedError');
    expect((await serviceOnly.getTwin('q-0')).responseBody.deviceId).toBe('q-0');
    const readWrite = hub.client('registryReadWrite');
    expect((await readWrite.get('q-0')).responseBody.deviceId).toBe('q-0');
  });

  it('throttles with 429 ThrottlingError and an integer Retry-After', async () => {
    hub.faults.throttleNext('twinRead', 1, 7);
    const error = await caught(() => sdk.getTwin('q-0'));
    expect(error.name).toBe('ThrottlingError');
    expect(error.response?.headers['retry-after']).toBe('7');
    expect((await sdk.getTwin('q-0')).responseBody.deviceId).toBe('q-0');
  });

  it('throttles from the tier table: S1 allows 20 queries per minute', async () => {
    hub.faults.configureThrottling({ tier: 'S1', units: 1 });
    for (let i = 0; i < 20; i++) await sdk.createQuery('SELECT * FROM devices', 1).next();
    const error = await caught(() => sdk.createQuery('SELECT * FROM devices', 1).next());
    expect(error.name).toBe('ThrottlingError');
    expect(Number(error.response?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('injects 500 and 503', async () => {
    hub.faults.failNext('registry', 1, 503);
    hub.faults.failNext('registry', 1, 500);
    expect((await caught(() => sdk.get('q-0'))).name).toBe('ServiceUnavailableError');
    expect((await caught(() => sdk.get('q-0'))).name).toBe('InternalServerError');
    expect((await sdk.get('q-0')).responseBody.deviceId).toBe('q-0');
  });
});
