/**
 * The sweep over real storage protocols: Azurite tables (runs, shards, findings, postures, suppressions), the shard
 * queue on Azurite's queue service drained like the queue trigger would, and a bulk import job that the emulated
 * hub runs by reading the staged blob from Azurite through a SAS URL.
 */
import { QueueClient } from '@azure/storage-queue';
import { BlobServiceClient } from '@azure/storage-blob';
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../../host/embedded-azurite';
import { makeSweepShardHandler } from '../../functions/sweep-shard';
import { IotHubModuleImportJobs } from '../../shared/adapters/iothub-import-jobs';
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
import { sweepHarness } from '../../testing/sweep-harness';
import { addDevice, BASELINE, desiredOf, MODULE, startFleetHub, type FleetHub } from '../../testing/sweep-fleet';

const context = {
  invocationId: 'test',
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  info: () => undefined,
} as unknown as InvocationContext;

describe('compliance sweep on Azurite and the emulator', () => {
  let azurite: EmbeddedAzurite;
  let hub: FleetHub;

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
    let token = page.continuationToken;
    while (token) {
      const next = (await listFindingsPage({ rule: 'module-missing', status: 'violation', limit: '7', continuationToken: token }, sweeps))
        .body as typeof page;
      next.findings.forEach((f) => seen.add(f.deviceId));
      token = next.continuationToken;
    }
    expect(seen.size).toBe(30);

    const csv = await streamFindingsCsv({ status: 'suppressed' }, sweeps);
    let text = '';
    if ('lines' in csv) for await (const chunk of csv.lines) text += chunk;
    expect(text).toBe(
      'deviceId,ruleId,severity,status,message,suppressionId,repairAction,repairResult\r\n' +
        `site#1?,module-missing,critical,suppressed,security module ${MODULE} is missing on device site#1?,${(await suppressions.list())[0]?.id},,\r\n`,
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
});
