/**
 * The sweep over real storage protocols: Azurite tables (runs, shards, findings, postures, suppressions), the shard
 * queue on Azurite's queue service drained like the queue trigger would (and by the standalone host's poller, poison
 * queue included), a bulk import job that the emulated hub runs by reading the staged blob from Azurite through a
 * SAS URL (and whose rejected lines end up on the devices' finding rows), and retention.
 */
import { odata, type TableClient } from '@azure/data-tables';
import { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import { BlobServiceClient } from '@azure/storage-blob';
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../../host/embedded-azurite';
import { makeSweepShardHandler } from '../../functions/sweep-shard';
import { importContainerName, IotHubModuleImportJobs } from '../../shared/adapters/iothub-import-jobs';
import { StorageSweepQueue } from '../../shared/adapters/storage-sweep-queue';
import { createTableClient, ensureTables } from '../../shared/adapters/table-clients';
import { TablePostureStore } from '../../shared/adapters/table-posture-store';
import { TableSuppressionStore } from '../../shared/adapters/table-suppression-store';
import { TableSweepStore } from '../../shared/adapters/table-sweep-store';
import { createSuppression } from '../../shared/services/suppressions-api';
import { getCompliance, getSweep } from '../../shared/services/sweeps-api';
import { listFindingsPage, streamFindingsCsv } from '../../shared/services/findings-api';
import { startSweep } from '../../shared/services/sweep/start-sweep';
import { getDevicePosture } from '../../shared/services/posture-queries';
import { silentLogger } from '../../shared/logger';
import type { InvocationContext } from '@azure/functions';
import { QueuePoller } from '../../host/queue-poller';
import { PermanentError } from '../../shared/errors';
import type { DeviceRegistry } from '../../shared/ports/device-registry';
import type { ModuleImportJobs } from '../../shared/ports/module-import-jobs';
import { failSweep } from '../../shared/services/sweep/fail-sweep';
import { handleSweepMessage } from '../../shared/services/sweep/handle-sweep-message';
import type { MessageOutcome } from '../../shared/services/sweep/message-outcome';
import { eventually } from '../../testing/eventually';
import { sweepHarness, type SweepHarness } from '../../testing/sweep-harness';
import { addDevice, BASELINE, desiredOf, MODULE, startFleetHub, type FleetHub } from '../../testing/sweep-fleet';

const context = {
  invocationId: 'test',
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  info: () => undefined,
} as unknown as InvocationContext;

const DAY = 86_400_000;

async function countRows(client: TableClient, filter: string): Promise<number> {
  let count = 0;
  for await (const _row of client.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) count += 1;
  return count;
}

/** Handles the harness queue's messages in order (no redelivery needed here), returning what each step did. */
async function drainOutcomes(h: SweepHarness, services = h.services): Promise<MessageOutcome[]> {
  const outcomes: MessageOutcome[] = [];
  for (let message = h.queue.messages.shift(); message !== undefined; message = h.queue.messages.shift())
    outcomes.push(await handleSweepMessage(message, services));
  return outcomes;
}

describe('compliance sweep on Azurite and the emulator', () => {
  let azurite: EmbeddedAzurite;
  let hub: FleetHub;

  /** Fresh sweep tables on Azurite. */
  async function freshStores(): Promise<{ sweeps: TableSweepStore; runs: TableClient; findings: TableClient; suffix: string }> {
    const suffix = Math.random().toString(36).slice(2, 8);
    const runs = createTableClient({ connectionString: azurite.connectionString }, `Runs${suffix}`);
    const findings = createTableClient({ connectionString: azurite.connectionString }, `Findings${suffix}`);
    await ensureTables([runs, findings]);
    return { sweeps: new TableSweepStore(runs, findings, { retryBudgetMs: 5000 }), runs, findings, suffix };
  }

  beforeAll(async () => {
    azurite = await startEmbeddedAzurite({ blob: true, queue: true });
  });
  afterAll(async () => {
    await azurite.stop();
  });
  beforeEach(async () => {
    hub = await startFleetHub();
  });
  afterEach(async () => {
    await hub.stop();
  });

  it('fans shards out through the storage queue, imports a backlog of missing modules with one job, and serves the results', async () => {
    for (let i = 0; i < 30; i++) addDevice(hub, `bulk-${String(i).padStart(2, '0')}`, 'missing');
    addDevice(hub, 'site#1?', 'missing', { tags: { site: 'lab' } });
    for (let i = 0; i < 10; i++) addDevice(hub, `ok-${i}`, 'healthy');
    const suffix = Math.random().toString(36).slice(2, 8);
    const tables = {
      runs: `Runs${suffix}`,
      findings: `Findings${suffix}`,
      suppressions: `Sup${suffix}`,
      latest: `Latest${suffix}`,
      history: `History${suffix}`,
    };
    const clients = Object.fromEntries(
      Object.entries(tables).map(([key, name]) => [key, createTableClient({ connectionString: azurite.connectionString }, name)]),
    );
    await ensureTables(Object.values(clients));
    const sweeps = new TableSweepStore(clients['runs']!, clients['findings']!, { retryBudgetMs: 5000 });
    const suppressions = new TableSuppressionStore(clients['suppressions']!, { retryBudgetMs: 5000 });
    const posture = new TablePostureStore(clients['latest']!, clients['history']!, { retryBudgetMs: 5000 });
    const queueName = `sweep-${suffix}`;
    const queue = StorageSweepQueue.fromConnectionString(azurite.connectionString, queueName, { retryBudgetMs: 5000 });
    const now = () => new Date(hub.clock.now);
    expect(
      (await createSuppression({ ruleId: 'module-missing', selector: "tags.site = 'lab'", reason: 'lab' }, suppressions, now())).status,
    ).toBe(201);

    const h = sweepHarness(hub, {
      settings: {
        rules: {
          moduleId: MODULE,
          schema: 'microAgent',
          baseline: BASELINE,
          staleAgentHours: 24,
          inactiveModuleHours: 72,
          requiredModuleAuth: 'any',
        },
        bucketDevices: 8,
        shards: 3,
        bulkImportThreshold: 10,
        importPollSeconds: 1,
      },
      sweeps,
      posture,
      suppressions,
      now,
    });
    const imports = new IotHubModuleImportJobs(BlobServiceClient.fromConnectionString(azurite.connectionString), h.sdk, {
      containerPrefix: 'twinguard-import',
      retryBudgetMs: 5000,
    });
    const services = { ...h.services, queue, imports };
    await startSweep({ sweepId: 'sw-bulk', trigger: 'api', dryRun: false }, services);

    // Drain the queue as the Functions queue trigger would: receive, run the handler, delete on success.
    const handler = makeSweepShardHandler(() => Promise.resolve(services));
    const client = new QueueClient(azurite.connectionString, queueName);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const run = (await sweeps.getRun('sw-bulk'))?.value;
      if (run?.status === 'completed' || Date.now() > deadline) break;
      const { receivedMessageItems } = await client.receiveMessages({ numberOfMessages: 8, visibilityTimeout: 30 });
      if (receivedMessageItems.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        // Import polls are enqueued with a visibility delay; make the wait short by polling the job directly.
        continue;
      }
      for (const item of receivedMessageItems) {
        const body = JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')) as unknown;
        await handler(body, context);
        await client.deleteMessage(item.messageId, item.popReceipt);
      }
      if (receivedMessageItems.length === 0) break;
    }
    h.close();
    const run = (await sweeps.getRun('sw-bulk'))?.value;
    expect(run?.status).toBe('completed');
    expect(run?.summary?.importJob).toMatchObject({ status: 'completed', staged: 30, failed: 0 });
    expect(run?.summary?.counters.repairs).toEqual({ 'createModule:queuedForImport': 30, 'createModule:imported': 30 });
    expect(desiredOf(hub, 'bulk-07', MODULE)).toMatchObject(BASELINE);
    expect(hub.registry.findTwin('site#1?', MODULE)).toBeUndefined();

    const sweep = await getSweep('sw-bulk', sweeps);
    expect(sweep.body).toMatchObject({ progress: { shardsDone: 3, shards: 3 } });
    const summary = await getCompliance(undefined, sweeps);
    expect(summary.body).toMatchObject({
      latest: { sweepId: 'sw-bulk' },
      trend: [expect.objectContaining({ sweepId: 'sw-bulk', evaluated: 41, compliant: 11 })],
    });

    const first = await listFindingsPage({ rule: 'module-missing', status: 'violation', limit: '7' }, sweeps);
    const page = first.body as { findings: Array<{ deviceId: string }>; continuationToken: string | null };
    expect(page.findings).toHaveLength(7);
    const seen = new Set(page.findings.map((f) => f.deviceId));
    const pageSizes = [page.findings.length];
    let token = page.continuationToken;
    while (token) {
      const next = (await listFindingsPage({ rule: 'module-missing', status: 'violation', limit: '7', continuationToken: token }, sweeps))
        .body as typeof page;
      next.findings.forEach((f) => seen.add(f.deviceId));
      pageSizes.push(next.findings.length);
      token = next.continuationToken;
    }
    expect(seen.size).toBe(30);
    // Pages are filled across table pages and shards: only the last may be short.
    expect(pageSizes.slice(0, -1).every((size) => size === 7)).toBe(true);

    const csv = await streamFindingsCsv({ status: 'suppressed' }, sweeps);
    let text = '';
    if ('lines' in csv) for await (const chunk of csv.lines) text += chunk;
    expect(text).toBe(
      'deviceId,ruleId,severity,status,message,suppressionId,repairAction,repairResult,managedBy,mitigations\r\n' +
        `site#1?,module-missing,critical,suppressed,security module ${MODULE} is missing on device site#1?,${(await suppressions.list())[0]?.id},,,,\r\n`,
    );

    const view = await getDevicePosture('bulk-03', posture, silentLogger);
    expect(view.body).toMatchObject({
      compliant: false,
      lastSweepId: 'sw-bulk',
      findings: [expect.objectContaining({ ruleId: 'module-missing', status: 'violation' })],
    });
    const history = await posture.listHistory('bulk-03', { limit: 5 });
    expect(history.entries.map((e) => [e.kind, e.partitionId])).toEqual([['complianceChanged', 'sweep']]);
  });

  it('a shard failing on every delivery through the standalone queue poller lands in <queue>-poison and ends the run as failed', async () => {
    for (let i = 0; i < 20; i++) addDevice(hub, `dev-${String(i).padStart(2, '0')}`, 'healthy');
    const { sweeps, suffix } = await freshStores();
    const h = sweepHarness(hub, { settings: { bucketDevices: 5, shards: 2 }, sweeps, now: () => new Date(hub.clock.now) });
    const queueName = `sweep-fail-${suffix}`;
    const queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
    const poison = queues.getQueueClient(`${queueName}-poison`);
    // The last bucket (open upper end, in the last shard) cannot be read.
    const inner = h.services.registry;
    const registry = Object.assign(Object.create(inner) as DeviceRegistry, {
      queryTwins: (query: string, pageSize: number, token?: string) =>
        query.includes('FROM devices.modules WHERE') && query.includes('deviceId >=') && !query.includes('deviceId <')
          ? Promise.reject(new PermanentError('hub says no'))
          : inner.queryTwins(query, pageSize, token),
    });
    const services = {
      ...h.services,
      registry,
      queue: StorageSweepQueue.fromConnectionString(azurite.connectionString, queueName, { retryBudgetMs: 5000 }),
    };
    await startSweep({ sweepId: 'sw-poison', trigger: 'api', dryRun: true }, services);
    const poller = new QueuePoller(
      [
        {
          functionName: 'sweep-shard',
          queue: queues.getQueueClient(queueName),
          poisonQueue: poison,
          handler: makeSweepShardHandler(() => Promise.resolve(services)),
        },
      ],
      silentLogger,
      { retryVisibilityTimeoutSeconds: 0, minPollMs: 50, maxPollMs: 200 },
    );
    await poller.start();
    try {
      await eventually(
        async () => (await poison.exists()) && (await poison.peekMessages()).peekedMessageItems.length === 1,
        20_000,
        'the failing shard message in the poison queue',
      );
    } finally {
      await poller.stop();
      h.close();
    }
    const [poisoned] = (await poison.peekMessages()).peekedMessageItems;
    expect(JSON.parse(Buffer.from(poisoned!.messageText, 'base64').toString('utf8'))).toEqual({
      kind: 'shard',
      sweepId: 'sw-poison',
      shard: 1,
    });
    const run = (await sweeps.getRun('sw-poison'))?.value;
    expect(run).toMatchObject({ status: 'failed', error: 'shard 1 failed on its last delivery (5 of 5): PermanentError: hub says no' });
    expect((await getSweep('sw-poison', sweeps)).body).toMatchObject({ status: 'failed', error: run?.error });
    expect(await handleSweepMessage({ kind: 'shard', sweepId: 'sw-poison', shard: 1 }, services)).toBe('ignored');
  });

  it('rewrites the finding rows of devices the import job rejected as failed, with the line error, and the others as created', async () => {
    for (let i = 0; i < 20; i++) addDevice(hub, `bulk-${String(i).padStart(2, '0')}`, 'missing');
    const { sweeps, suffix } = await freshStores();
    const h = sweepHarness(hub, {
      settings: {
        rules: {
          moduleId: MODULE,
          schema: 'microAgent',
          baseline: BASELINE,
          staleAgentHours: 24,
          inactiveModuleHours: 72,
          requiredModuleAuth: 'any',
        },
        bucketDevices: 4,
        shards: 3,
        bulkImportThreshold: 5,
        importPollSeconds: 1,
        // Every step yields after one unit: the rewrite resumes shard by shard across poll messages.
        shardTimeBudgetMs: 0,
      },
      sweeps,
      now: () => new Date(hub.clock.now),
    });
    const jobs = new IotHubModuleImportJobs(BlobServiceClient.fromConnectionString(azurite.connectionString), h.sdk, {
      containerPrefix: `imp-${suffix}`,
      retryBudgetMs: 5000,
    });
    // Between staging and the job: one device is deleted (its module line now names no device) and one gets its
    // module by other means (a create line for an existing module is rejected).
    const imports: ModuleImportJobs = {
      stage: (sweepId, blockKey, lines) => jobs.stage(sweepId, blockKey, lines),
      start: (sweepId) => {
        hub.registry.deleteDevice('bulk-05');
        hub.registry.createModule({ deviceId: 'bulk-06', moduleId: MODULE, authentication: { type: 'sas' } });
        return jobs.start(sweepId);
      },
      status: (sweepId, jobId) => jobs.status(sweepId, jobId),
      findJob: (sweepId) => jobs.findJob(sweepId),
    };
    const services = { ...h.services, imports };
    await startSweep({ sweepId: 'sw-import-fail', trigger: 'api', dryRun: false }, services);
    const rewriteProgress: number[] = [];
    for (let message = h.queue.messages.shift(); message !== undefined; message = h.queue.messages.shift()) {
      const outcome = await handleSweepMessage(message, services);
      const shard = (await sweeps.getRun('sw-import-fail'))?.value.importResults?.nextShard;
      if (shard !== undefined) rewriteProgress.push(shard);
      // While the job runs, wait for it instead of spinning through polls (the memory queue ignores their delay).
      if (
        outcome === 'importPolled' &&
        message.kind === 'importJob' &&
        (await jobs.status('sw-import-fail', message.jobId)).status === 'running'
      )
        await eventually(async () => (await jobs.status('sw-import-fail', message.jobId)).status !== 'running', 10_000, 'the import job');
    }
    h.close();

    const run = (await sweeps.getRun('sw-import-fail'))?.value;
    expect(run?.status).toBe('completed');
    expect(run?.summary?.importJob).toMatchObject({ status: 'completed', staged: 20, failed: 2 });
    expect(run?.summary?.importJob?.failures?.map((failure) => failure.deviceId).sort()).toEqual(['bulk-05', 'bulk-06']);
    expect(run?.summary?.counters.repairs).toEqual({
      'createModule:queuedForImport': 20,
      'createModule:imported': 18,
      'createModule:importFailed': 2,
    });
    expect(run?.importResults).toEqual({ nextShard: 3, rowsRewritten: 20 });
    // The rewrite yielded at its time budget after each page, recording the shard to resume from, and still
    // rewrote each row once.
    expect(rewriteProgress).toEqual([0, 1, 2, 3]);

    const rows: Record<string, { repairResult?: string; repairError?: string }> = {};
    let token: string | undefined;
    do {
      const page = await sweeps.listFindings({
        sweepId: 'sw-import-fail',
        shards: run!.plan!.shards,
        ruleId: 'module-missing',
        limit: 7,
        continuationToken: token,
      });
      for (const row of page.rows) rows[row.deviceId] = { repairResult: row.repairResult, repairError: row.repairError };
      token = page.continuationToken;
    } while (token);
    // The job's output as IoT Hub writes it: one line per rejected input line, naming the device.
    const log = await BlobServiceClient.fromConnectionString(azurite.connectionString)
      .getContainerClient(importContainerName(`imp-${suffix}`, 'sw-import-fail'))
      .getBlobClient('importErrors.log')
      .downloadToBuffer();
    const logLines = log
      .toString('utf8')
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logLines.map((line) => [line['deviceId'], line['moduleId'], line['errorCode']]).sort()).toEqual([
      ['bulk-05', MODULE, 'DeviceNotFound'],
      ['bulk-06', MODULE, 'ModuleAlreadyExistsOnDevice'],
    ]);
    expect(Object.keys(rows)).toHaveLength(20);
    expect(rows['bulk-05']).toEqual({ repairResult: 'failed', repairError: expect.stringMatching(/^DeviceNotFound: /) as unknown });
    expect(rows['bulk-06']).toEqual({
      repairResult: 'failed',
      repairError: expect.stringMatching(/^ModuleAlreadyExistsOnDevice: /) as unknown,
    });
    for (const [deviceId, row] of Object.entries(rows))
      if (deviceId !== 'bulk-05' && deviceId !== 'bulk-06')
        expect({ deviceId, ...row }).toEqual({ deviceId, repairResult: 'created', repairError: undefined });
    // The API shows the same.
    const api = (await listFindingsPage({ sweepId: 'sw-import-fail', rule: 'module-missing', limit: '1000' }, sweeps)).body as {
      findings: Array<{ deviceId: string; repairResult?: string; repairError?: string }>;
    };
    expect(api.findings.find((finding) => finding.deviceId === 'bulk-05')).toMatchObject({ repairResult: 'failed' });
    expect(hub.registry.findTwin('bulk-07', MODULE)).toBeDefined();
  });

  it('deletes runs and findings past COMPLIANCE_RETENTION_DAYS in bounded, resumable batches, never a run in progress', async () => {
    for (let i = 0; i < 12; i++) addDevice(hub, `gap-${String(i).padStart(2, '0')}`, 'missing');
    const { sweeps, runs, findings } = await freshStores();
    const t0 = hub.clock.now;
    const sweepSettings = { bucketDevices: 4, shards: 2, retentionDays: 3650 };
    const harnessAt = (ms: number, overrides = {}): SweepHarness =>
      sweepHarness(hub, { settings: { ...sweepSettings, ...overrides }, sweeps, now: () => new Date(ms) });

    // Completed 120 days ago; failed 110 days ago after one shard had written findings; still running, 100 days old;
    // completed 10 days ago.
    let h = harnessAt(t0 - 120 * DAY);
    expect((await h.sweep({ sweepId: 'sw-old-done', dryRun: true })).status).toBe('completed');
    h.close();
    h = harnessAt(t0 - 110 * DAY);
    await startSweep({ sweepId: 'sw-old-failed', trigger: 'api', dryRun: true }, h.services);
    expect(await handleSweepMessage(h.queue.messages.shift()!, h.services)).toBe('planned');
    expect(await handleSweepMessage(h.queue.messages.shift()!, h.services)).toBe('shardDone');
    expect(await failSweep('sw-old-failed', 'shard 1 failed on its last delivery (5 of 5): test', h.services)).toBe('failed');
    h.close();
    h = harnessAt(t0 - 100 * DAY);
    await startSweep({ sweepId: 'sw-old-running', trigger: 'api', dryRun: true }, h.services);
    expect(await handleSweepMessage(h.queue.messages.shift()!, h.services)).toBe('planned');
    h.close();
    h = harnessAt(t0 - 10 * DAY);
    expect((await h.sweep({ sweepId: 'sw-recent', dryRun: true })).status).toBe('completed');
    h.close();
    const findingsOf = (sweepId: string): Promise<number> =>
      countRows(findings, odata`PartitionKey ge ${`${sweepId}_`} and PartitionKey lt ${`${sweepId}_~`}`);
    const runRowsOf = (sweepId: string): Promise<number> => countRows(runs, odata`PartitionKey eq ${sweepId}`);
    expect(await findingsOf('sw-old-done')).toBe(12);
    const failedFindings = await findingsOf('sw-old-failed');
    expect(failedFindings).toBeGreaterThan(0);

    // Today's sweep, 90 days of retention, 5 rows per batch; each reading of the clock is a second later and the
    // budget 2.5 s, so the cleanup stops and resumes several times.
    let ticks = 0;
    h = sweepHarness(hub, {
      settings: { ...sweepSettings, retentionDays: 90, retentionBatchRows: 5, shardTimeBudgetMs: 2_500 },
      sweeps,
      now: () => new Date(t0 + 1000 * ticks++),
    });
    await startSweep({ sweepId: 'sw-now', trigger: 'schedule', dryRun: true }, h.services);
    const outcomes = await drainOutcomes(h);
    h.close();

    // The last shard's inline finalize started the cleanup and ran out of time; two `finalize` deliveries finished it.
    expect(outcomes.slice(-2)).toEqual(['retentionYielded', 'finalized']);
    const now = (await sweeps.getRun('sw-now'))?.value;
    expect(now?.status).toBe('completed');
    expect(now?.retention).toMatchObject({ status: 'done', runsDeleted: 2 });
    const cutoff = Date.parse(now!.retention!.cutoff) - (t0 - 90 * DAY);
    expect(cutoff).toBeGreaterThan(0);
    expect(cutoff).toBeLessThan(ticks * 1000);
    for (const gone of ['sw-old-done', 'sw-old-failed']) {
      expect(await sweeps.getRun(gone)).toBeUndefined();
      expect({ gone, runRows: await runRowsOf(gone), findings: await findingsOf(gone) }).toEqual({ gone, runRows: 0, findings: 0 });
    }
    expect((await sweeps.listRecentRuns(10)).map((run) => run.sweepId)).toEqual(['sw-now', 'sw-recent']);
    // Kept: the run in progress (however old) with its shard rows, and the recent run with its findings.
    expect((await sweeps.getRun('sw-old-running'))?.value.status).toBe('running');
    expect(await runRowsOf('sw-old-running')).toBe(3);
    expect(await findingsOf('sw-recent')).toBe(12);
    // Every row deleted was counted: both runs' findings, their run and 2 shard rows each, the completed one's index row.
    expect(now?.retention?.rowsDeleted).toBe(12 + failedFindings + 2 * 3 + 1);
    // A redelivered finalize after the cleanup finished does nothing.
    expect(await handleSweepMessage({ kind: 'finalize', sweepId: 'sw-now' }, h.services)).toBe('ignored');
  });
});
