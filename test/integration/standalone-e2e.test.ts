/**
 * End to end, as deployed outside Azure: the standalone host in its own process against the IoT Hub
 * emulator (registry over HTTP, built-in endpoint over AMQP) and Azurite (tables, blobs, queues).
 * 200 devices are created through azure-iothub; every one must get its security module and posture
 * history. Mid-stream the host is SIGKILLed and started again on the same checkpoints: the tables
 * must show nothing lost and nothing duplicated.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { EventHubConsumerClient } from '@azure/event-hubs';
import { IotHubEmulator } from '../../emulator';
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../../host/embedded-azurite';
import { closeRegistryClient, createRegistryClient } from '../../shared/adapters/registry-client';
import { eventually } from '../../testing/eventually';
import type { ChildMessage } from '../support/standalone-child';

const DEVICES = 200;
const MODULE = 'DefenderIotMicroAgent';
const KEY = 'e2e-function-key-5c1d9a';
const BASELINE = { Process_Mode: 2, Heartbeat_MessageFrequency: 'High' };
const SPECIAL_DEVICE = "e2e-line#7?cell%'b";
const DEVICE_IDS = Array.from({ length: DEVICES }, (_, i) => (i === 137 ? SPECIAL_DEVICE : `e2e-device-${String(i).padStart(3, '0')}`));
/** The host is killed once this many modules exist (some, not all, of the devices provisioned). */
const KILL_AFTER_MODULES = 60;

const REPO = path.join(__dirname, '..', '..');
const CHILD_ENTRY = path.join(REPO, 'test', 'support', 'standalone-child.ts');
const TS_REGISTER = path.join(REPO, 'test', 'support', 'ts-register.js');

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
  return eventually(check, timeoutMs, what, 100);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

interface HostProcess {
  child: ChildProcess;
  ready: Promise<string | undefined>;
  exited: Promise<void>;
  output: string[];
}

const checkpoints: (Extract<ChildMessage, { type: 'checkpointed' }> & { host: number })[] = [];
const children: ChildProcess[] = [];

function startHost(env: Record<string, string>, index: number): HostProcess {
  const child = fork(CHILD_ENTRY, [], {
    cwd: REPO,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    execArgv: ['-r', TS_REGISTER],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  children.push(child);
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<string | undefined>((resolve, reject) => {
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') resolve(message.httpUrl);
      else if (message.type === 'failed') reject(new Error(`host ${index} failed to start: ${message.error}`));
      else checkpoints.push({ ...message, host: index });
    });
    void exited.then(() => reject(new Error(`host ${index} exited before it was ready:\n${output.join('')}`)));
  });
  return { child, ready, exited, output };
}

async function rows(client: TableClient): Promise<Record<string, unknown>[]> {
  const all: Record<string, unknown>[] = [];
  for await (const entity of client.listEntities()) all.push(entity);
  return all;
}

describe('standalone host end to end (child process, emulator, Azurite)', () => {
  let azurite: EmbeddedAzurite;
  let hub: IotHubEmulator;
  let registry: ReturnType<typeof createRegistryClient> | undefined;
  const hosts: HostProcess[] = [];

  beforeAll(async () => {
    azurite = await startEmbeddedAzurite({ blob: true, queue: true });
    hub = await IotHubEmulator.start({ consumerGroups: ['$Default', 'twinguard'], agent: { defaultMode: 'healthy', reportDelayMs: 50 } });
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(hosts.map((h) => h.exited));
    if (registry) closeRegistryClient(registry);
    await hub?.stop();
    await azurite?.stop();
  });

  it('provisions 200 devices created through azure-iothub, survives a SIGKILL mid-stream, and records every posture exactly once', async () => {
    const env: Record<string, string> = {
      IOTHUB_CONNECTION_STRING: hub.serviceConnectionString,
      IOTHUB_SERVICE_ENDPOINT: hub.registryUrl,
      IOTHUB_EVENTS_CONNECTION: hub.eventHubConnectionString,
      IOTHUB_EVENTS_CONSUMER_GROUP: 'twinguard',
      AzureWebJobsStorage: azurite.connectionString,
      SECURITY_MODULE_BASELINE: JSON.stringify(BASELINE),
      REGISTRY_RETRY_BUDGET_MS: '20000',
      // The per-device provisioning path under kills is what this test is about (storm mode has its own tests).
      REGISTRATION_STORM_THRESHOLD: 'off',
      STANDALONE_HTTP_PORT: '0',
      STANDALONE_FUNCTION_KEY: KEY,
      STANDALONE_CHECKPOINT_CONTAINER: 'e2e-checkpoints',
      // The default strategy (greedy) with the expiry the host used to hard-code for it: the restart after the
      // SIGKILL waits this long for the killed host's remaining claims.
      STANDALONE_OWNERSHIP_EXPIRY_SECONDS: '10',
    };

    // Provisioning latency from the hub's own change stream: device created → module created.
    const deviceCreatedAt = new Map<string, number>();
    const moduleCreatedAt = new Map<string, number>();
    const detach = hub.registry.onChange((change) => {
      if (change.kind !== 'lifecycle' || change.opType !== 'createDeviceIdentity') return;
      if (change.moduleId === undefined) deviceCreatedAt.set(change.deviceId, change.operationTime.getTime());
      else if (change.moduleId === MODULE) moduleCreatedAt.set(change.deviceId, change.operationTime.getTime());
    });

    try {
      const first = startHost(env, 1);
      hosts.push(first);
      await first.ready;
      const startedAt = Date.now();

      // Devices are created the way an operator's script would, 8 at a time, while the host runs.
      registry = createRegistryClient({ connectionString: hub.serviceConnectionString, serviceEndpoint: hub.registryUrl });
      const sdk = registry;
      const queue = [...DEVICE_IDS];
      const creating = Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let deviceId = queue.shift(); deviceId !== undefined; deviceId = queue.shift()) {
            await sdk.create({ deviceId, status: 'enabled' });
            await sleep(20);
          }
        }),
      );

      // Kill the host abruptly once some, not all, devices have their module.
      // Only once it has also checkpointed, so the restart shows checkpoints and idempotency working together.
      const modulesAtKill = await waitFor(
        'the first modules and a checkpoint',
        30_000,
        () => checkpoints.length > 0 && moduleCreatedAt.size >= KILL_AFTER_MODULES && moduleCreatedAt.size,
      );
      const killedAt = Date.now();
      first.child.kill('SIGKILL');
      await first.exited;
      expect(first.child.signalCode).toBe('SIGKILL');
      expect(modulesAtKill).toBeLessThan(DEVICES);
      const checkpointsOfFirst = checkpoints.length;

      // Same settings, same Azurite, same emulator, same checkpoint container.
      const second = startHost(env, 2);
      hosts.push(second);
      const api = await second.ready;
      await creating;

      // Bounded: every device gets its module, and every agent's report reaches the posture tables.
      await waitFor(`modules on all ${DEVICES} devices`, 40_000, () => moduleCreatedAt.size === DEVICES).catch((err: unknown) => {
        console.error(second.output.join('').slice(-4000));
        throw err;
      });
      const latest = TableClient.fromConnectionString(azurite.connectionString, 'PostureLatest', { allowInsecureConnection: true });
      const history = TableClient.fromConnectionString(azurite.connectionString, 'PostureHistory', { allowInsecureConnection: true });
      const deadLetters = TableClient.fromConnectionString(azurite.connectionString, 'PostureDeadLetters', {
        allowInsecureConnection: true,
      });
      await waitFor('an in-sync agent report in the latest posture of every device', 30_000, async () => {
        const all = await rows(latest);
        return all.length === DEVICES && all.every((row) => row['AgentState'] === 'success' && row['ConfigurationState'] === 'inSync');
      }).catch(async (err: unknown) => {
        const all = await rows(latest);
        console.error(
          JSON.stringify({ latestRows: all.length, notInSync: all.filter((r) => r['ConfigurationState'] !== 'inSync').slice(0, 3) }),
          second.output.join('').slice(-4000),
        );
        throw err;
      });
      const doneAt = Date.now();
      // Nothing left in flight: every partition is checkpointed up to the last event the hub holds, so no batch
      // (and no late replay of one) can still add rows to the counts below.
      const endpoint = new EventHubConsumerClient('twinguard', hub.eventHubConnectionString);
      try {
        const partitionIds = await endpoint.getPartitionIds();
        await waitFor('the host to checkpoint every partition to its last event', 20_000, async () => {
          for (const partitionId of partitionIds) {
            const { lastEnqueuedSequenceNumber, isEmpty } = await endpoint.getPartitionProperties(partitionId);
            const checkpointed = Math.max(-1, ...checkpoints.filter((c) => c.partitionId === partitionId).map((c) => c.lastSequenceNumber));
            if (!isEmpty && checkpointed < lastEnqueuedSequenceNumber) return false;
          }
          return true;
        });
      } finally {
        await endpoint.close();
      }

      // Nothing lost, nothing duplicated: counted against what was sent.
      const latestRows = await rows(latest);
      expect(latestRows).toHaveLength(DEVICES);
      expect(new Set(latestRows.map((r) => r['DeviceId']))).toEqual(new Set(DEVICE_IDS));
      const historyRows = await rows(history);
      const perDevice = new Map<string, Record<string, number>>();
      for (const row of historyRows) {
        const counts = perDevice.get(String(row['DeviceId'])) ?? {};
        const kind = String(row['Kind']);
        counts[kind] = (counts[kind] ?? 0) + 1;
        perDevice.set(String(row['DeviceId']), counts);
      }
      expect([...perDevice.keys()].sort()).toEqual([...DEVICE_IDS].sort());
      const wrong = [...perDevice.entries()].filter(
        ([, counts]) => counts['provisioning'] !== 1 || counts['moduleCreated'] !== 1 || (counts['reportedChanged'] ?? 0) < 1,
      );
      expect(wrong).toEqual([]);
      expect(await rows(deadLetters)).toEqual([]);
      const modulesInHub = DEVICE_IDS.reduce((n, id) => n + hub.registry.listModules(id).filter((m) => m.moduleId === MODULE).length, 0);
      expect(modulesInHub).toBe(DEVICES);

      // The restarted host did the rest of the work from the checkpoints.
      const checkpointsOfSecond = checkpoints.filter((c) => c.host === 2);
      expect(checkpointsOfFirst).toBeGreaterThan(0);
      expect(checkpointsOfSecond.length).toBeGreaterThan(0);

      // Its HTTP API serves the posture of a device whose ID needs percent-encoding.
      const response = await fetch(`${api}/api/devices/${encodeURIComponent(SPECIAL_DEVICE)}/posture`, {
        headers: { 'x-functions-key': KEY },
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ deviceId: SPECIAL_DEVICE });
      expect((await fetch(`${api}/api/devices/${encodeURIComponent(SPECIAL_DEVICE)}/posture`)).status).toBe(401);

      const latencies = DEVICE_IDS.map((id) => moduleCreatedAt.get(id)! - deviceCreatedAt.get(id)!).sort((a, b) => a - b);
      const beforeKill = DEVICE_IDS.filter((id) => moduleCreatedAt.get(id)! < killedAt)
        .map((id) => moduleCreatedAt.get(id)! - deviceCreatedAt.get(id)!)
        .sort((a, b) => a - b);
      const events = checkpoints.reduce((n, c) => n + c.events, 0);
      console.log(
        `PROVISIONING LATENCY ${DEVICES} devices (host SIGKILLed after ${modulesAtKill} modules, restarted): p50=${percentile(latencies, 50)} ms p99=${percentile(latencies, 99)} ms max=${latencies[latencies.length - 1]} ms; before the kill (${beforeKill.length} devices): p50=${percentile(beforeKill, 50)} ms p99=${percentile(beforeKill, 99)} ms`,
      );
      console.log(
        `STANDALONE HOST THROUGHPUT: ${events} events checkpointed in ${checkpoints.length} batches over ${((doneAt - startedAt) / 1000).toFixed(1)} s (${(events / ((doneAt - startedAt) / 1000)).toFixed(0)} events/s, incl. the kill and restart)`,
      );

      second.child.kill('SIGTERM');
      await second.exited;
      expect(second.child.exitCode).toBe(0); // drained and stopped cleanly
    } finally {
      detach();
    }
  }, 90_000);
});
