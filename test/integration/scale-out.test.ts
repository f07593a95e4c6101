/**
 * [SLOW ~50 s] Scale-out, as an operator runs it: three standalone hosts (`host/cli.ts --standalone`, each its own
 * process) in `balanced` mode share the 8 partitions of the emulator's built-in endpoint through one checkpoint
 * container in Azurite. 1,000 devices are created through azure-iothub while one host is SIGKILLed and later
 * another is stopped with SIGTERM. Then:
 * - every device has its security module, created once (one module-create notification per device);
 * - every posture history row exists once, counted against the notifications the hub sent (no duplicates, none
 *   missing), and nothing was dead-lettered;
 * - the survivors own every partition within the ownership expiry (plus the passes that claim them) after the
 *   SIGKILL, and the last host owns all of them after the SIGTERM;
 * - a replacement host joins and a sweep (6 shards) started on one host is handled by both through the queue.
 * The benchmark with the figures (takeover time, events/s of 1 vs 3 hosts) is bench/scale-out.bench.ts.
 */
import * as path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { EventHubConsumerClient, earliestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import { BlobServiceClient } from '@azure/storage-blob';
import { IotHubEmulator } from '../../emulator';
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../../host/embedded-azurite';
import { closeRegistryClient, createRegistryClient } from '../../shared/adapters/registry-client';
import { eventually } from '../../testing/eventually';
import { PartitionOwnership } from '../../testing/partition-ownership';
import { killAll, startHostProcess, type HostProcess } from '../../testing/standalone-host-process';

const DEVICES = 1000;
const PARTITIONS = 8;
const MODULE = 'DefenderIotMicroAgent';
const KEY = 'scale-out-function-key-3f9a';
const CONSUMER_GROUP = 'twinguard';
const CHECKPOINTS = 'scale-out-checkpoints';
/** Short, so the takeover after the SIGKILL fits the test; renewals every quarter of it (1.5 s). */
const EXPIRY_SECONDS = 6;
const UPDATE_INTERVAL_MS = (EXPIRY_SECONDS * 1000) / 4;
const KILL_AFTER_MODULES = 250;
const TERM_AFTER_MODULES = 600;
const REPO = path.join(__dirname, '..', '..');
const ENTRY = { kind: 'source', requireHook: path.join(REPO, 'test', 'support', 'ts-register.js') } as const;
const DEVICE_IDS = Array.from({ length: DEVICES }, (_, i) => `scale-${String(i).padStart(4, '0')}`);

const waitFor = <T>(what: string, timeoutMs: number, check: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> =>
  eventually(check, timeoutMs, what, 100);

/** An Int64 column comes back as `{ value, type: 'Int64' }`. */
const int64 = (value: unknown): number => Number(typeof value === 'object' && value !== null ? (value as { value: unknown }).value : value);

async function rows(client: TableClient): Promise<Record<string, unknown>[]> {
  const all: Record<string, unknown>[] = [];
  for await (const entity of client.listEntities()) all.push(entity);
  return all;
}

/** Every event the hub put on the built-in endpoint, read back on another consumer group. */
async function readAllEvents(connectionString: string): Promise<(ReceivedEventData & { partitionId: string })[]> {
  const client = new EventHubConsumerClient('$Default', connectionString);
  try {
    const all: (ReceivedEventData & { partitionId: string })[] = [];
    for (const partitionId of await client.getPartitionIds()) {
      const { lastEnqueuedSequenceNumber, isEmpty } = await client.getPartitionProperties(partitionId);
      if (isEmpty) continue;
      const received: ReceivedEventData[] = [];
      await new Promise<void>((resolve, reject) => {
        const subscription = client.subscribe(
          partitionId,
          {
            processEvents: async (events) => {
              received.push(...events);
              if (received.length > 0 && received[received.length - 1]!.sequenceNumber >= lastEnqueuedSequenceNumber) {
                await subscription.close();
                resolve();
              }
            },
            processError: async (err) => {
              await subscription.close();
              reject(err);
            },
          },
          { startPosition: earliestEventPosition, maxBatchSize: 500, maxWaitTimeInSeconds: 1, skipParsingBodyAsJson: true },
        );
      });
      all.push(...received.map((event) => ({ ...event, partitionId })));
    }
    return all;
  } finally {
    await client.close();
  }
}

describe('[slow] scale-out: 3 standalone hosts in balanced mode (child processes, emulator with 8 partitions, Azurite)', () => {
  let azurite: EmbeddedAzurite;
  let hub: IotHubEmulator;
  let ownership: PartitionOwnership;
  const hosts: HostProcess[] = [];

  beforeAll(async () => {
    azurite = await startEmbeddedAzurite({ blob: true, queue: true });
    hub = await IotHubEmulator.start({
      partitionCount: PARTITIONS,
      consumerGroups: ['$Default', CONSUMER_GROUP],
      agent: { defaultMode: 'healthy', reportDelayMs: 50 },
    });
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(CHECKPOINTS);
    ownership = new PartitionOwnership(container, hub.eventHubConnectionString, CONSUMER_GROUP, EXPIRY_SECONDS * 1000);
  });

  afterAll(async () => {
    await killAll(hosts);
    await ownership?.close();
    await hub?.stop();
    await azurite?.stop();
  });

  it('provisions 1,000 devices exactly once through a SIGKILL and a SIGTERM, hands partitions over, and spreads sweep shards', async () => {
    const env: Record<string, string> = {
      IOTHUB_CONNECTION_STRING: hub.serviceConnectionString,
      IOTHUB_SERVICE_ENDPOINT: hub.registryUrl,
      IOTHUB_EVENTS_CONNECTION: hub.eventHubConnectionString,
      IOTHUB_EVENTS_CONSUMER_GROUP: CONSUMER_GROUP,
      AzureWebJobsStorage: azurite.connectionString,
      SECURITY_MODULE_BASELINE: JSON.stringify({ Process_Mode: 2, Heartbeat_MessageFrequency: 'High' }),
      REGISTRY_RETRY_BUDGET_MS: '20000',
      // The per-device provisioning path under kills is what this test is about (storm mode has its own tests).
      REGISTRATION_STORM_THRESHOLD: 'off',
      STANDALONE_HTTP_PORT: '0',
      STANDALONE_FUNCTION_KEY: KEY,
      STANDALONE_CHECKPOINT_CONTAINER: CHECKPOINTS,
      STANDALONE_LOAD_BALANCING: 'balanced',
      STANDALONE_OWNERSHIP_EXPIRY_SECONDS: String(EXPIRY_SECONDS),
      COMPLIANCE_SWEEP_SHARDS: '6',
      SWEEP_BUCKET_DEVICES: '100',
      // A shard waits for its host's query budget (per instance), so spreading shards is what makes a sweep faster.
      SWEEP_QUERIES_PER_MINUTE: '120',
      // One message per poll, so a host takes a shard only when it is free (host.json's batchSize, Functions' override
      // syntax); idle hosts poll every second.
      AzureFunctionsJobHost__extensions__queues__batchSize: '1',
      AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:01',
    };
    const moduleCreations = new Map<string, number>();
    const detach = hub.registry.onChange((change) => {
      if (change.kind === 'lifecycle' && change.opType === 'createDeviceIdentity' && change.moduleId === MODULE)
        moduleCreations.set(change.deviceId, (moduleCreations.get(change.deviceId) ?? 0) + 1);
    });
    const registry = createRegistryClient({ connectionString: hub.serviceConnectionString, serviceEndpoint: hub.registryUrl });
    const show = (err: unknown): never => {
      for (const host of hosts) console.error(`--- host ${host.label}\n${host.lines.slice(-30).join('\n')}`);
      throw err;
    };
    try {
      const [a, b, c] = ['a', 'b', 'c'].map((label) => startHostProcess(env, label, ENTRY)) as [HostProcess, HostProcess, HostProcess];
      hosts.push(a, b, c);
      await Promise.all([a.ready, b.ready, c.ready]);
      const ids = [a, b, c].map((host) => host.hostId()!);
      expect(new Set(ids).size).toBe(3);
      // Shared out before the load: each host holds 2 or 3 partitions.
      await waitFor('the three hosts to share the 8 partitions', 30_000, async () => {
        const { owners, byOwner } = await ownership.read();
        return owners.size === PARTITIONS && ids.every((id) => (byOwner.get(id)?.length ?? 0) >= 2);
      }).catch(show);

      // Devices are created as an operator's script would, 16 at a time, while the hosts run.
      const queue = [...DEVICE_IDS];
      const creating = Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let deviceId = queue.shift(); deviceId !== undefined; deviceId = queue.shift())
            await registry.create({ deviceId, status: 'enabled' });
        }),
      );

      await waitFor(`${KILL_AFTER_MODULES} modules`, 30_000, () => moduleCreations.size >= KILL_AFTER_MODULES).catch(show);
      const killedOwned = (await ownership.read()).byOwner.get(ids[0]!)?.length ?? 0;
      a.child.kill('SIGKILL');
      await a.exited;
      const killedAt = Date.now();
      await waitFor('b and c to own every partition after the SIGKILL', 30_000, () =>
        ownership.ownedBy([ids[1]!, ids[2]!], PARTITIONS),
      ).catch(show);
      const takeoverMs = Date.now() - killedAt;
      // The dead host's claims stay valid for the expiry after its last renewal; then each survivor claims one per
      // pass (balanced), so the bound is the expiry plus the passes to claim what it held, plus a pass of slack.
      const takeoverBoundMs = EXPIRY_SECONDS * 1000 + (Math.ceil(killedOwned / 2) + 1) * UPDATE_INTERVAL_MS + 1000;
      expect(takeoverMs).toBeLessThanOrEqual(takeoverBoundMs);

      await waitFor(`${TERM_AFTER_MODULES} modules`, 40_000, () => moduleCreations.size >= TERM_AFTER_MODULES).catch(show);
      b.child.kill('SIGTERM');
      const termExit = await b.exited;
      expect(termExit.code).toBe(0); // drained and abandoned its claims
      const termAt = Date.now();
      await waitFor('c to own every partition after the SIGTERM', 30_000, () => ownership.ownedBy([ids[2]!], PARTITIONS)).catch(show);
      const handoverMs = Date.now() - termAt;
      await creating;

      // Nothing left in flight: every device provisioned and in sync, every partition checkpointed to its last event.
      await waitFor(`modules on all ${DEVICES} devices`, 40_000, () => moduleCreations.size === DEVICES).catch(show);
      const latest = TableClient.fromConnectionString(azurite.connectionString, 'PostureLatest', { allowInsecureConnection: true });
      // 1,000 agents are real MQTT ModuleClients in the emulator's process: on a loaded machine their reports take longer.
      await waitFor('an in-sync agent report in the latest posture of every device', 80_000, async () => {
        const all = await rows(latest);
        return all.length === DEVICES && all.every((row) => row['AgentState'] === 'success' && row['ConfigurationState'] === 'inSync');
      }).catch(show);
      const endpoint = new EventHubConsumerClient(CONSUMER_GROUP, hub.eventHubConnectionString);
      const checkpointStore = new (await import('@azure/eventhubs-checkpointstore-blob')).BlobCheckpointStore(
        BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(CHECKPOINTS),
      );
      try {
        await waitFor('every partition checkpointed to its last event', 30_000, async () => {
          const checkpoints = await checkpointStore.listCheckpoints(
            endpoint.fullyQualifiedNamespace,
            endpoint.eventHubName,
            CONSUMER_GROUP,
          );
          for (const partitionId of await endpoint.getPartitionIds()) {
            const { lastEnqueuedSequenceNumber, isEmpty } = await endpoint.getPartitionProperties(partitionId);
            const at = checkpoints.find((cp) => cp.partitionId === partitionId)?.sequenceNumber ?? -1;
            if (!isEmpty && at < lastEnqueuedSequenceNumber) return false;
          }
          return true;
        }).catch(show);
      } finally {
        await endpoint.close();
      }

      // Every device's module, created once.
      expect([...moduleCreations.values()].filter((n) => n !== 1)).toEqual([]);
      expect(DEVICE_IDS.filter((id) => hub.registry.listModules(id).filter((m) => m.moduleId === MODULE).length !== 1)).toEqual([]);

      // Every history row once, against what the hub sent: one row per device-created notification and per
      // notification of the security module (its creation, the baseline, the agent's reports), keyed by the
      // event's partition and sequence number.
      const sent = await readAllEvents(hub.eventHubConnectionString);
      const expected = new Set<string>();
      for (const event of sent) {
        const deviceId = String(event.systemProperties?.['iothub-connection-device-id'] ?? '');
        const moduleId: unknown = event.systemProperties?.['iothub-connection-module-id'];
        if (!DEVICE_IDS.includes(deviceId)) continue;
        if (moduleId === undefined ? event.properties?.['opType'] === 'createDeviceIdentity' : moduleId === MODULE)
          expected.add(`${deviceId}|${event.partitionId}|${event.sequenceNumber}`);
      }
      const history = TableClient.fromConnectionString(azurite.connectionString, 'PostureHistory', { allowInsecureConnection: true });
      const historyRows = await rows(history);
      const recorded = historyRows.map((row) => `${String(row['DeviceId'])}|${String(row['PartitionId'])}|${int64(row['SequenceNumber'])}`);
      expect(recorded.length).toBe(new Set(recorded).size); // no duplicates
      expect([...expected].filter((key) => !recorded.includes(key)).slice(0, 5)).toEqual([]); // none missing
      expect(recorded.filter((key) => !expected.has(key)).slice(0, 5)).toEqual([]); // none invented
      expect(recorded).toHaveLength(expected.size);
      const deadLetters = TableClient.fromConnectionString(azurite.connectionString, 'PostureDeadLetters', {
        allowInsecureConnection: true,
      });
      expect(await rows(deadLetters)).toEqual([]);

      // A replacement host joins; a sweep started on c is handled by both through the queue.
      const d = startHostProcess(env, 'd', ENTRY);
      hosts.push(d);
      const api = await c.ready;
      await d.ready;
      const started = await fetch(`${api}/api/sweeps`, { method: 'POST', headers: { 'x-functions-key': KEY } });
      expect(started.status).toBe(202);
      const { location } = (await started.json()) as { location: string };
      const run = await waitFor('the sweep to complete', 40_000, async () => {
        const response = await fetch(`${api}${location}`, { headers: { 'x-functions-key': KEY } });
        const body = (await response.json()) as { status: string; shards: { invocations?: number }[] };
        return body.status === 'completed' && body;
      }).catch(show);
      expect(run.shards).toHaveLength(6);
      const shardSteps = (host: HostProcess): number =>
        host.linesWith('sweep message handled').filter((l) => l.includes('"kind":"shard"')).length;
      const handledBy = [c, d].filter((host) => shardSteps(host) > 0).map((host) => host.label);
      console.log(
        `SCALE-OUT: takeover after SIGKILL ${takeoverMs} ms (host held ${killedOwned} partitions; bound ${takeoverBoundMs} ms, expiry ${EXPIRY_SECONDS} s); ` +
          `handover after SIGTERM ${handoverMs} ms; ${sent.length} events, ${historyRows.length} history rows; ` +
          `shard steps by host: c=${shardSteps(c)} d=${shardSteps(d)}; warnings ${hosts.map((h) => `${h.label}=${h.linesWith(' WARN ').length}`).join(' ')}`,
      );
      expect(handledBy).toEqual(['c', 'd']);
      // Nothing went wrong that a host had to report as an error (a partition changing hands is not one).
      expect(hosts.flatMap((host) => host.lines.filter((line) => / ERROR /.test(line)).map((line) => `${host.label}: ${line}`))).toEqual(
        [],
      );
    } finally {
      detach();
      closeRegistryClient(registry);
    }
  }, 180_000);
});
