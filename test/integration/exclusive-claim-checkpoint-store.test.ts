/**
 * host/exclusive-claim-checkpoint-store.ts against Azurite: hosts that claim a partition nobody has claimed before,
 * at the same moment, get one winner (the SDK's BlobCheckpointStore lets every one of them win); renewals,
 * contested claims and abandoning keep the SDK store's etag semantics, and the SDK store lists what it wrote.
 */
import type { PartitionOwnership } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../../host/embedded-azurite';
import { ExclusiveClaimCheckpointStore } from '../../host/exclusive-claim-checkpoint-store';

const HUB = { fullyQualifiedNamespace: 'Hub.ServiceBus.Windows.Net', eventHubName: 'IotHub-EHub', consumerGroup: 'TwinGuard' };
/** Upload and setMetadata answer a quoted etag, listing an unquoted one; If-Match takes either. */
const bare = (etag: string | undefined): string | undefined => etag?.replace(/"/g, '');
const claim = (ownerId: string, partitionId: string, etag?: string): PartitionOwnership => ({ ...HUB, ownerId, partitionId, etag });

describe('ExclusiveClaimCheckpointStore (Azurite)', () => {
  let azurite: EmbeddedAzurite;
  let service: BlobServiceClient;
  let n = 0;
  const freshContainer = async (): Promise<ContainerClient> => {
    const container = service.getContainerClient(`claims-${++n}`);
    await container.create();
    return container;
  };

  beforeAll(async () => {
    azurite = await startEmbeddedAzurite({ blob: true });
    service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  });
  afterAll(async () => azurite?.stop());

  it('gives a never-claimed partition to exactly one of several hosts claiming it at once', async () => {
    const container = await freshContainer();
    const hosts = ['a', 'b', 'c', 'd', 'e'].map(() => new ExclusiveClaimCheckpointStore(container));
    const results = await Promise.all(hosts.map((store, i) => store.claimOwnership([claim(`host-${i}`, '0')])));
    const winners = results.filter((r) => r.length === 1);
    expect(winners).toHaveLength(1);
    const [listed] = await new BlobCheckpointStore(container).listOwnership(
      HUB.fullyQualifiedNamespace,
      HUB.eventHubName,
      HUB.consumerGroup,
    );
    expect(listed).toMatchObject({ partitionId: '0', ownerId: winners[0]![0]!.ownerId });
    expect(bare(listed?.etag)).toBe(bare(winners[0]![0]!.etag));
  });

  it('is what the SDK store gets wrong: with it, every host wins the first claim', async () => {
    const container = await freshContainer();
    const results = await Promise.all(
      ['a', 'b', 'c', 'd', 'e'].map((owner) => new BlobCheckpointStore(container).claimOwnership([claim(owner, '0')])),
    );
    expect(results.filter((r) => r.length === 1).length).toBeGreaterThan(1);
  });

  it('renews with the etag, refuses a stale etag, and abandons like the SDK store', async () => {
    const container = await freshContainer();
    const store = new ExclusiveClaimCheckpointStore(container);
    const [first] = await store.claimOwnership([claim('a', '3')]);
    expect(first?.etag).toBeDefined();
    const [renewed] = await store.claimOwnership([claim('a', '3', first!.etag)]);
    expect(renewed?.etag).not.toBe(first!.etag);
    expect(await store.claimOwnership([claim('b', '3', first!.etag)])).toEqual([]); // stale etag: lost
    const [abandoned] = await store.claimOwnership([claim('', '3', renewed!.etag)]);
    const [listed] = await store.listOwnership(HUB.fullyQualifiedNamespace, HUB.eventHubName, HUB.consumerGroup);
    expect(listed).toMatchObject({ partitionId: '3', ownerId: '' });
    expect(bare(listed?.etag)).toBe(bare(abandoned!.etag));
    // A second claim without an etag (a host that listed before the record existed) loses to the record.
    expect(await store.claimOwnership([claim('c', '3')])).toEqual([]);
  });
});
