/**
 * Import jobs at a modelled pace (emulator/faults.ts ImportJobPacing) through azure-iothub against in-process Azurite:
 * queued for the start delay, then at most N lines per second with progress moving; job calls count against the
 * `jobs` throttling class, not the identity registry's.
 */
import { BlobServiceClient, ContainerSASPermissions } from '@azure/storage-blob';
import type { Registry } from 'azure-iothub';
import { startRegistryOnlyHub, type RegistryOnlyHub } from '../../testing/registry-only-hub';
import { eventually } from '../../testing/eventually';
import { startAzurite, type AzuriteInstance } from '../support/azurite';
import { caught } from '../support/caught';

let azurite: AzuriteInstance;
let hub: RegistryOnlyHub;
let sdk: Registry;

beforeAll(async () => {
  azurite = await startAzurite({ blob: true });
  hub = await startRegistryOnlyHub('pacing-hub');
  sdk = hub.client();
});

afterAll(async () => {
  await hub?.stop();
  await azurite?.stop();
});

async function stagedContainer(name: string, lines: string[]): Promise<string> {
  const client = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(name);
  await client.createIfNotExists();
  const body = lines.join('\n');
  await client.getBlockBlobClient('devices.txt').upload(body, Buffer.byteLength(body));
  return client.generateSasUrl({ permissions: ContainerSASPermissions.parse('rwl'), expiresOn: new Date(Date.now() + 3_600_000) });
}

interface Job {
  jobId: string;
  status: string;
  progress: number;
}

describe('import job pacing', () => {
  it('stays enqueued for the start delay, then applies lines at the paced rate', async () => {
    const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ id: `paced-${i}`, importMode: 'create' }));
    const sas = await stagedContainer('paced', lines);
    hub.faults.setImportJobPacing({ startDelayMs: 400, linesPerSecond: 20 });
    const started = Date.now();
    const job = (await sdk.importDevicesFromBlob(sas, sas)) as unknown as Job;
    hub.faults.setImportJobPacing(null);
    expect(((await sdk.getJob(job.jobId)) as unknown as Job).status).toBe('enqueued');
    const midway = await eventually(
      async () => {
        const current = (await sdk.getJob(job.jobId)) as unknown as Job;
        return current.status === 'running' && current.progress > 0 && current.progress < 100 ? current : undefined;
      },
      5_000,
      'the job to be part way',
      20,
    );
    expect(midway.progress).toBeLessThan(100);
    await eventually(async () => ((await sdk.getJob(job.jobId)) as unknown as Job).status === 'completed', 5_000, 'the job to complete');
    // 400 ms queued + 12 lines at 20/s ≈ 1 s; the last sleep may end a little early.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(hub.registry.findTwin('paced-11')).toBeDefined();
  });

  it('throttles job calls in the jobs class and leaves the registry class alone', async () => {
    const sas = await stagedContainer('throttled', [JSON.stringify({ id: 'jobs-class-1', importMode: 'create' })]);
    const before = hub.faults.requestCounts();
    hub.faults.throttleNext('jobs', 1, 1);
    const error = await caught(() => sdk.importDevicesFromBlob(sas, sas));
    expect(error.response?.statusCode).toBe(429);
    await sdk.create({ deviceId: 'registry-class-1' });
    const after = hub.faults.requestCounts();
    expect([after.jobs.requests - before.jobs.requests, after.jobs.throttled - before.jobs.throttled]).toEqual([1, 1]);
    expect(after.registry.requests - before.registry.requests).toBe(1);
  });
});
