/**
 * Export jobs (Registry.exportDevicesToBlob) against in-process Azurite: devices.txt with identities, modules, twins
 * and Edge scopes, with and without keys, and its round trip through an import job into another hub.
 */
import { BlobServiceClient, ContainerSASPermissions, type ContainerClient } from '@azure/storage-blob';
import type { Registry } from 'azure-iothub';
import { startRegistryOnlyHub, type RegistryOnlyHub } from '../../testing/registry-only-hub';
import { eventually } from '../../testing/eventually';
import { startAzurite, type AzuriteInstance } from '../support/azurite';
import { caught } from '../support/caught';

let azurite: AzuriteInstance;
let hub: RegistryOnlyHub;
let sdk: Registry;
let blobs: BlobServiceClient;

beforeAll(async () => {
  azurite = await startAzurite({ blob: true });
  blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
  hub = await startRegistryOnlyHub('export-hub');
  sdk = hub.client();
  await sdk.create({ deviceId: 'gw', capabilities: { iotEdge: true } });
  const gwScope = scopesOf((await sdk.get('gw')).responseBody).deviceScope as string;
  await sdk.create({ deviceId: 'leaf', deviceScope: gwScope });
  await sdk.addModule({ deviceId: 'leaf', moduleId: 'agent' });
  await sdk.updateTwin('leaf', { tags: { site: 'north' }, properties: { desired: { interval: 5 } } }, '*');
  hub.registry.updateReported('leaf', undefined, { firmware: '1.2' });
  hub.registry.updateTwin('leaf', 'agent', { properties: { desired: { mode: 'strict' } } }, '*');
});

afterAll(async () => {
  await hub?.stop();
  await azurite?.stop();
});

/** azure-iothub's Device class does not declare the scope fields its DeviceIdentity has. */
const scopesOf = (device: unknown): { deviceScope?: string; parentScopes?: string[] } =>
  device as { deviceScope?: string; parentScopes?: string[] };

async function container(name: string): Promise<{ client: ContainerClient; sas: string }> {
  const client = blobs.getContainerClient(name);
  await client.createIfNotExists();
  const sas = await client.generateSasUrl({
    permissions: ContainerSASPermissions.parse('rwl'),
    expiresOn: new Date(Date.now() + 3_600_000),
  });
  return { client, sas };
}

async function runExport(client: Registry, sas: string, excludeKeys: boolean): Promise<{ status: string; failureReason?: string }> {
  const job = (await client.exportDevicesToBlob(sas, excludeKeys)) as unknown as { jobId: string; type: string; status: string };
  expect(job.type).toBe('export');
  return eventually(
    async () => {
      const current = (await client.getJob(job.jobId)) as unknown as { status: string; failureReason?: string };
      return current.status === 'completed' || current.status === 'failed' ? current : undefined;
    },
    10_000,
    'the export job to end',
  );
}

/** One line of devices.txt, as far as these tests read it. */
interface ExportLine {
  id: string;
  moduleId?: string;
  eTag: string;
  twinETag: string;
  authentication: { symmetricKey: { primaryKey: string | null; secondaryKey: string | null } };
  tags: Record<string, unknown>;
  properties: { desired: Record<string, unknown>; reported: Record<string, unknown> };
  capabilities?: { iotEdge: boolean };
  deviceScope?: string;
  parentScopes?: string[];
}

async function exportedLines(client: ContainerClient): Promise<ExportLine[]> {
  const text = (await client.getBlobClient('devices.txt').downloadToBuffer()).toString('utf8');
  expect(text.endsWith('\r\n')).toBe(true);
  return text
    .split('\r\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ExportLine);
}

describe('exportDevicesToBlob', () => {
  it('writes one ExportImportDevice line per device and module, with keys, twins and scopes', async () => {
    const { client, sas } = await container('export-keys');
    expect(await runExport(sdk, sas, false)).toMatchObject({ status: 'completed' });
    const lines = await exportedLines(client);
    expect(lines.map((l) => [l.id, l.moduleId])).toEqual([
      ['gw', undefined],
      ['leaf', undefined],
      ['leaf', 'agent'],
    ]);
    const [gw, leaf, agent] = lines as [ExportLine, ExportLine, ExportLine];
    const device = (await sdk.get('leaf')).responseBody;
    expect(leaf.eTag).toBe(device.etag);
    expect(leaf.authentication.symmetricKey.primaryKey).toBe(device.authentication?.symmetricKey?.primaryKey);
    expect(leaf.twinETag).toBe((await sdk.getTwin('leaf')).responseBody.etag);
    expect(leaf.tags).toEqual({ site: 'north' });
    expect(leaf.properties.desired.interval).toBe(5);
    expect(leaf.properties.reported.firmware).toBe('1.2');
    expect(gw.capabilities).toEqual({ iotEdge: true });
    expect(gw.deviceScope).toMatch(/^ms-azure-iot-edge:\/\/gw-\d+$/);
    expect(leaf.deviceScope).toBe(gw.deviceScope);
    expect(leaf.parentScopes).toEqual([gw.deviceScope]);
    expect(agent.properties.desired.mode).toBe('strict');
  });

  it('with excludeKeys writes null keys', async () => {
    const { client, sas } = await container('export-nokeys');
    await runExport(sdk, sas, true);
    for (const line of await exportedLines(client)) {
      expect(line.authentication.symmetricKey).toEqual({ primaryKey: null, secondaryKey: null });
    }
  });

  it('reports an unwritable container as a failed job', async () => {
    const result = await runExport(sdk, `${azurite.blobEndpoint ?? ''}/no-such-container?sv=2020-01-01&sig=x`, false);
    expect(result.status).toBe('failed');
    expect(result.failureReason).toBeTruthy();
  });

  it('lists export jobs with getJob, listJobs and /jobs/v2', async () => {
    const { sas } = await container('export-list');
    await runExport(sdk, sas, true);
    const listed = (await sdk.listJobs()).responseBody as unknown as Array<{ type: string }>;
    expect(listed.filter((job) => job.type === 'export').length).toBeGreaterThanOrEqual(1);
  });

  it('round-trips through an import job into another hub, scopes included', async () => {
    const { client, sas } = await container('export-roundtrip');
    await runExport(sdk, sas, false);
    const other = await startRegistryOnlyHub('import-hub');
    try {
      const otherSdk = other.client();
      const imported = (await otherSdk.importDevicesFromBlob(sas, sas)) as unknown as { jobId: string };
      await eventually(
        async () => ((await otherSdk.getJob(imported.jobId)) as unknown as { status: string }).status === 'completed',
        10_000,
        'import',
      );
      const lines = await exportedLines(client);
      const leaf = (await otherSdk.get('leaf')).responseBody;
      expect(leaf.authentication?.symmetricKey?.primaryKey).toBe(lines[1]?.authentication.symmetricKey.primaryKey);
      const gw = (await otherSdk.get('gw')).responseBody;
      expect(scopesOf(leaf).parentScopes).toEqual([scopesOf(gw).deviceScope]);
      expect(scopesOf(gw).deviceScope).toBe(lines[0]?.deviceScope);
      expect((await otherSdk.getTwin('leaf')).responseBody.tags).toEqual({ site: 'north' });
    } finally {
      await other.stop();
    }
  });

  it('refuses a second import/export job while one runs', async () => {
    const { sas } = await container('export-busy');
    await sdk.exportDevicesToBlob(sas, true);
    const error = await caught(() => sdk.exportDevicesToBlob(sas, true));
    expect(error.response?.statusCode).toBe(409);
    await eventually(
      async () =>
        ((await sdk.listJobs()).responseBody as unknown as Array<{ status: string }>).every(
          (j) => j.status !== 'running' && j.status !== 'enqueued',
        ),
      10_000,
      'jobs idle',
    );
  });
});
