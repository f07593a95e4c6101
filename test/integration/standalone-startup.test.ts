/**
 * The standalone host's start-up against the emulator (8 partitions) and Azurite, each host in its own process
 * (`host/cli.ts --standalone`):
 * - with the default load-balancing settings one host owns every partition within a couple of seconds of starting
 *   and of a clean restart, and after a SIGKILL within the ownership expiry (STANDALONE_OWNERSHIP_EXPIRY_SECONDS)
 *   plus one update interval (defect: `balanced` with the SDK's 10 s / 60 s took ~70 s and ~60 s);
 * - a consumer group the endpoint does not have is a start-up error naming IOTHUB_EVENTS_CONSUMER_GROUP, before the
 *   API serves (defect: the host answered HTTP and processed nothing, logging "the client reconnects by itself").
 */
import * as path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { IotHubEmulator } from '../../emulator';
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../../host/embedded-azurite';
import { eventually } from '../../testing/eventually';
import { PartitionOwnership } from '../../testing/partition-ownership';
import { killAll, startHostProcess, type HostProcess } from '../../testing/standalone-host-process';

const PARTITIONS = 8;
const REPO = path.join(__dirname, '..', '..');
const ENTRY = { kind: 'source', requireHook: path.join(REPO, 'test', 'support', 'ts-register.js') } as const;
const CHECKPOINTS = 'startup-checkpoints';

describe('standalone host start-up (child processes, emulator with 8 partitions, Azurite)', () => {
  let azurite: EmbeddedAzurite;
  let hub: IotHubEmulator;
  const hosts: HostProcess[] = [];
  const baseEnv = (): Record<string, string> => ({
    IOTHUB_CONNECTION_STRING: hub.serviceConnectionString,
    IOTHUB_SERVICE_ENDPOINT: hub.registryUrl,
    IOTHUB_EVENTS_CONNECTION: hub.eventHubConnectionString,
    AzureWebJobsStorage: azurite.connectionString,
    STANDALONE_HTTP_PORT: '0',
    STANDALONE_FUNCTION_KEY: 'startup-function-key-77a1',
    STANDALONE_CHECKPOINT_CONTAINER: CHECKPOINTS,
  });
  const start = (env: Record<string, string>, label: string): HostProcess => {
    const host = startHostProcess(env, label, ENTRY);
    hosts.push(host);
    return host;
  };

  beforeAll(async () => {
    azurite = await startEmbeddedAzurite({ blob: true, queue: true });
    // The consumer groups `npm run emulator` creates by default: $Default and twinguard.
    hub = await IotHubEmulator.start({ partitionCount: PARTITIONS, consumerGroups: ['$Default', 'twinguard'] });
  });

  afterAll(async () => {
    await killAll(hosts);
    await hub?.stop();
    await azurite?.stop();
  });

  it('with the default load balancing, one host owns every partition at once on start and restart, and within the expiry after a SIGKILL', async () => {
    const expirySeconds = 8;
    const ownership = new PartitionOwnership(
      BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(CHECKPOINTS),
      hub.eventHubConnectionString,
      'twinguard',
      expirySeconds * 1000,
    );
    const allOwnedBy = (host: HostProcess, what: string, timeoutMs: number): Promise<boolean> =>
      eventually(() => ownership.ownedBy([host.hostId()!], PARTITIONS), timeoutMs, what, 50);
    try {
      // Defaults: neither STANDALONE_LOAD_BALANCING nor STANDALONE_OWNERSHIP_EXPIRY_SECONDS set.
      const first = start(baseEnv(), 'first');
      await first.ready;
      let since = Date.now();
      await allOwnedBy(first, 'the first host to own all 8 partitions', 3000);
      const firstMs = Date.now() - since;

      first.child.kill('SIGTERM');
      expect((await first.exited).code).toBe(0);
      const restarted = start(baseEnv(), 'restarted');
      await restarted.ready;
      since = Date.now();
      await allOwnedBy(restarted, 'the restarted host to own all 8 partitions', 3000);
      const restartMs = Date.now() - since;

      // A crash leaves claims behind: they hold for the expiry after the dead host's last renewal.
      restarted.child.kill('SIGTERM');
      await restarted.exited;
      const env = { ...baseEnv(), STANDALONE_OWNERSHIP_EXPIRY_SECONDS: String(expirySeconds) };
      const crashing = start(env, 'crashing');
      await crashing.ready;
      await allOwnedBy(crashing, 'the crashing host to own all 8 partitions', 3000);
      crashing.child.kill('SIGKILL');
      await crashing.exited;
      const killedAt = Date.now();
      const successor = start(env, 'successor');
      await successor.ready;
      await allOwnedBy(successor, 'the successor to own all 8 partitions', 20_000);
      const takeoverMs = Date.now() - killedAt;
      // Expiry, then the next pass (a quarter of it), plus a second for the blob timestamps' resolution and two for the
      // successor's own start-up on a loaded 2-core machine.
      expect(takeoverMs).toBeLessThanOrEqual(expirySeconds * 1000 * 1.25 + 3000);
      console.log(
        `SINGLE HOST OWNS 8 PARTITIONS: ${firstMs} ms after start, ${restartMs} ms after a clean restart (defaults: greedy, 20 s expiry); ${takeoverMs} ms after a SIGKILL with an ${expirySeconds} s expiry (incl. the successor's start-up)`,
      );
    } finally {
      await ownership.close();
    }
  }, 60_000);

  it('fails at start with a message naming IOTHUB_EVENTS_CONSUMER_GROUP when the consumer group does not exist', async () => {
    const host = start({ ...baseEnv(), IOTHUB_EVENTS_CONSUMER_GROUP: 'not-created' }, 'no-group');
    const exit = await Promise.race([
      host.exited,
      new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 20_000).unref()),
    ]);
    expect(exit).toEqual({ code: 1, signal: null });
    const output = host.lines.join('\n');
    expect(output).toContain("Consumer group 'not-created' does not exist");
    expect(output).toContain('IOTHUB_EVENTS_CONSUMER_GROUP');
    expect(output).not.toContain('TwinGuard standalone host running'); // the API never served
  }, 30_000);
});
