/**
 * Scheduled jobs over /jobs/v2 through azure-iothub JobClient: twin-update and direct-method jobs with a query condition
 * and start time, per-device statistics, cancel, job queries with filters and paging, the tier's concurrent-job limit
 * and device-operation pacing.
 */
import type { JobClient, Registry } from 'azure-iothub';
import { FaultInjector } from '../../emulator/faults';
import type { HubChange } from '../../emulator/hub-events';
import { defaultPolicies, RegistryHttpServer } from '../../emulator/http-server';
import { IotHubEmulator } from '../../emulator/index';
import { HubRegistry } from '../../emulator/registry/hub-registry';
import type { InvokeDeviceMethod } from '../../emulator/scheduled-jobs/scheduled-job';
import { eventually } from '../../testing/eventually';
import { closeRegistryClient, createRegistryClient } from '../../shared/adapters/registry-client';
import { caught } from '../support/caught';
import { jobClientFor } from '../support/job-client';

interface JobJson {
  jobId: string;
  type: string;
  status: string;
  failureReason?: string;
  startTime: string;
  endTime?: string;
  deviceJobStatistics: { deviceCount: number; failedCount: number; succeededCount: number; runningCount: number; pendingCount: number };
}

type JobStatusFilter = Parameters<JobClient['createQuery']>[1];

const HOST = 'jobs-hub.azure-devices.net';
const calls: Array<Parameters<InvokeDeviceMethod>> = [];
let methodAnswer: InvokeDeviceMethod | undefined;
let registry: HubRegistry;
let server: RegistryHttpServer;
let jobs: JobClient;
let closeJobs: () => void;
let sdk: Registry;
const changes: HubChange[] = [];

beforeAll(async () => {
  registry = new HubRegistry();
  const policies = defaultPolicies();
  server = new RegistryHttpServer({
    registry,
    faults: new FaultInjector(),
    hostName: HOST,
    policies,
    scheduledJobs: {
      tier: 'S1',
      limits: { deviceOperationsPerSecond: 20 },
      invokeDeviceMethod: (...args) => {
        calls.push(args);
        return methodAnswer ? methodAnswer(...args) : Promise.resolve({ status: 200, payload: { ok: true } });
      },
    },
  });
  await server.start();
  const owner = policies.find((p) => p.keyName === 'iothubowner');
  const connectionString = `HostName=${HOST};SharedAccessKeyName=iothubowner;SharedAccessKey=${owner?.primaryKey ?? ''}`;
  ({ client: jobs, close: closeJobs } = jobClientFor(connectionString, server.url));
  sdk = createRegistryClient({ connectionString, serviceEndpoint: server.url });
  for (const [deviceId, site] of [
    ['n-1', 'north'],
    ['n-2', 'north'],
    ['s-1', 'south'],
  ]) {
    registry.createDevice({ deviceId: deviceId as string, tags: { site } });
  }
  registry.onChange((change) => changes.push(change));
});

afterAll(async () => {
  closeJobs();
  closeRegistryClient(sdk);
  await server.stop();
});

beforeEach(() => {
  calls.length = 0;
  changes.length = 0;
  methodAnswer = undefined;
});

async function ended(jobId: string): Promise<JobJson> {
  return eventually(
    async () => {
      const job = (await jobs.getJob(jobId)).jobStatus as JobJson;
      return ['completed', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
    },
    10_000,
    `job ${jobId} to end`,
  );
}

describe('scheduleTwinUpdate', () => {
  it('patches the twins the condition selects, one notified twin change each, and counts them', async () => {
    const created = (
      await jobs.scheduleTwinUpdate(
        'twin-job-1',
        "tags.site = 'north'",
        { etag: '*', properties: { desired: { interval: 30 } } },
        new Date(),
      )
    ).jobStatus as JobJson;
    expect(created).toMatchObject({ jobId: 'twin-job-1', type: 'scheduleUpdateTwin' });
    expect(['queued', 'running', 'completed']).toContain(created.status);
    const job = await ended('twin-job-1');
    expect(job.status).toBe('completed');
    expect(job.deviceJobStatistics).toEqual({ deviceCount: 2, failedCount: 0, succeededCount: 2, runningCount: 0, pendingCount: 0 });
    expect((await sdk.getTwin('n-1')).responseBody.properties.desired.interval).toBe(30);
    expect((await sdk.getTwin('s-1')).responseBody.properties.desired.interval).toBeUndefined();
    expect(changes.map((c) => `${c.kind}:${c.deviceId}`).sort()).toEqual(['twinChange:n-1', 'twinChange:n-2']);
    expect(server.scheduledJobs.deviceJobs('twin-job-1').map((d) => d.status)).toEqual(['completed', 'completed']);
  });

  it('paces device operations at the tier rate (20/s here)', async () => {
    const started = Date.now();
    await jobs.scheduleTwinUpdate('twin-job-paced', "deviceId IN ['n-1', 'n-2', 's-1']", { tags: { paced: true } }, new Date());
    const job = await ended('twin-job-paced');
    expect(job.deviceJobStatistics.succeededCount).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });

  it('fails a job whose condition the emulator cannot run, naming the construct', async () => {
    await jobs.scheduleTwinUpdate('twin-job-bad', "STARTSWITH(deviceId, 'n')", { tags: { x: 1 } }, new Date());
    const job = await ended('twin-job-bad');
    expect(job.status).toBe('failed');
    expect(job.failureReason).toContain("Function 'STARTSWITH'");
  });

  it('accepts the patch shape the SDK e2e tests send (empty reported section) and applies its tags', async () => {
    const patch = { etag: '*', tags: { key: 'value2' }, properties: { desired: {}, reported: {} } };
    await jobs.scheduleTwinUpdate('twin-job-e2e', "deviceId = 's-1'", patch, new Date(Date.now()), 120);
    expect((await ended('twin-job-e2e')).status).toBe('completed');
    expect((await sdk.getTwin('s-1')).responseBody.tags?.key).toBe('value2');
  });

  it('refuses a request without a twin change', async () => {
    const error = await caught(() => jobs.scheduleTwinUpdate('twin-job-empty', "deviceId = 'n-1'", { etag: '*' }, new Date()));
    expect(error.response?.statusCode).toBe(400);
    expect(error.message).toContain('updateTwin must change tags or properties.desired');
  });
});

describe('scheduleDeviceMethod', () => {
  it('calls the method on each selected device through the injected invoker', async () => {
    await jobs.scheduleDeviceMethod('method-job-1', "tags.site = 'south'", {
      methodName: 'reboot',
      payload: { delay: 1 },
      responseTimeoutInSeconds: 15,
    });
    const job = await ended('method-job-1');
    expect(job.deviceJobStatistics).toMatchObject({ deviceCount: 1, succeededCount: 1, failedCount: 0 });
    expect(calls).toEqual([['s-1', undefined, { methodName: 'reboot', payload: { delay: 1 }, responseTimeoutInSeconds: 15 }]]);
    expect(server.scheduledJobs.deviceJobs('method-job-1')[0]?.outcome).toEqual({
      deviceMethodResponse: { status: 200, payload: { ok: true } },
    });
  });

  it('counts devices that do not answer as failed', async () => {
    methodAnswer = () => Promise.reject(Object.assign(new Error('offline'), { code: 'DeviceNotOnline' }));
    await jobs.scheduleDeviceMethod('method-job-2', "tags.site = 'north'", { methodName: 'reboot' });
    const job = await ended('method-job-2');
    expect(job.status).toBe('completed');
    expect(job.deviceJobStatistics).toMatchObject({ deviceCount: 2, succeededCount: 0, failedCount: 2 });
  });
});

describe('start time, cancel and the concurrent-job limit', () => {
  it('a future job is scheduled, holds the S1 slot (one active job), and cancelling frees it', async () => {
    const later = new Date(Date.now() + 60_000);
    const created = (await jobs.scheduleTwinUpdate('future-job', "deviceId = 'n-1'", { tags: { later: true } }, later))
      .jobStatus as JobJson;
    expect(created.status).toBe('queued');
    await eventually(async () => ((await jobs.getJob('future-job')).jobStatus as JobJson).status === 'scheduled', 5000, 'scheduled');
    expect(created.startTime).toBe(later.toISOString());
    const refused = await caught(() => jobs.scheduleTwinUpdate('second-job', "deviceId = 'n-2'", { tags: { x: 1 } }, new Date()));
    expect(refused.response?.statusCode).toBe(403);
    expect(refused.message).toContain('the most its tier allows (1)');
    const cancelled = (await jobs.cancelJob('future-job')).jobStatus as JobJson;
    expect(cancelled.status).toBe('cancelled');
    expect(((await jobs.getJob('future-job')).jobStatus as JobJson).status).toBe('cancelled');
    expect((await sdk.getTwin('n-1')).responseBody.tags?.later).toBeUndefined();
    await jobs.scheduleTwinUpdate('second-job', "deviceId = 'n-2'", { tags: { x: 1 } }, new Date());
    expect((await ended('second-job')).status).toBe('completed');
  });

  it('refuses a job id that exists and answers 404 for one that does not', async () => {
    const taken = await caught(() => jobs.scheduleTwinUpdate('twin-job-1', "deviceId = 'n-1'", { tags: { y: 1 } }, new Date()));
    expect(taken.response?.statusCode).toBe(409);
    const missing = await caught(() => jobs.getJob('no-such-job'));
    expect(missing.response?.statusCode).toBe(404);
  });
});

describe('createQuery over jobs', () => {
  it('filters by type and status and pages with continuation tokens', async () => {
    const methodJobs = (await jobs.createQuery('scheduleDeviceMethod').next()).result as JobJson[];
    expect(methodJobs.map((j) => j.jobId)).toEqual(['method-job-1', 'method-job-2']);
    // The SDK's JobStatus type lists 'finished'; the REST reference's JobResponse statuses are completed/failed.
    const failed = (await jobs.createQuery(undefined, 'failed' as JobStatusFilter).next()).result as JobJson[];
    expect(failed.map((j) => j.jobId)).toEqual(['twin-job-bad']);
    const query = jobs.createQuery('scheduleUpdateTwin', undefined, 2);
    const seen: string[] = [];
    while (query.hasMoreResults) {
      // Query.next() without an argument ignores the stored token (dist/query.js), so pass it as SDK callers must.
      const page = (await query.next(query.continuationToken)).result as JobJson[];
      expect(page.length).toBeLessThanOrEqual(2);
      seen.push(...page.map((j) => j.jobId));
    }
    expect(seen).toEqual(['twin-job-1', 'twin-job-paced', 'twin-job-bad', 'twin-job-e2e', 'future-job', 'second-job']);
  });
});

describe('IotHubEmulator wiring', () => {
  it('without an invoker devices answer DeviceNotOnline; useDeviceMethodInvoker answers method jobs', async () => {
    const emulator = await IotHubEmulator.start({ hubName: 'wired-jobs-hub' });
    const { client, close } = jobClientFor(emulator.serviceConnectionString, emulator.registryUrl);
    try {
      emulator.registry.createDevice({ deviceId: 'w-1' });
      const finished = async (jobId: string): Promise<JobJson> =>
        eventually(
          async () => {
            const job = (await client.getJob(jobId)).jobStatus as JobJson;
            return job.status === 'completed' ? job : undefined;
          },
          10_000,
          jobId,
        );
      await client.scheduleDeviceMethod('offline-job', "deviceId = 'w-1'", { methodName: 'ping' });
      expect((await finished('offline-job')).deviceJobStatistics.failedCount).toBe(1);
      expect(emulator.scheduledJobs.deviceJobs('offline-job')[0]?.error?.code).toBe('DeviceNotOnline');
      emulator.scheduledJobs.useDeviceMethodInvoker((deviceId) => Promise.resolve({ status: 200, payload: { pong: deviceId } }));
      await client.scheduleDeviceMethod('online-job', "deviceId = 'w-1'", { methodName: 'ping' });
      expect((await finished('online-job')).deviceJobStatistics.succeededCount).toBe(1);
      expect(emulator.scheduledJobs.deviceJobs('online-job')[0]?.outcome?.deviceMethodResponse?.payload).toEqual({ pong: 'w-1' });
    } finally {
      close();
      await emulator.stop();
    }
  });
});
