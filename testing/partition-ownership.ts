/**
 * Who owns which partition, read the way the hosts read it: `BlobCheckpointStore.listOwnership` over the checkpoint
 * container they share. A claim counts while it is younger than the ownership expiry and names an owner (a host
 * that stopped cleanly abandons its claims by blanking the owner).
 */
import { EventHubConsumerClient } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import type { ContainerClient } from '@azure/storage-blob';

export interface OwnershipView {
  /** partitionId → ownerId, live claims only. */
  owners: Map<string, string>;
  /** ownerId → partitions it holds. */
  byOwner: Map<string, string[]>;
}

export class PartitionOwnership {
  private readonly store: BlobCheckpointStore;
  private readonly client: EventHubConsumerClient;

  constructor(
    container: ContainerClient,
    eventHubConnectionString: string,
    private readonly consumerGroup: string,
    private readonly expiryMs: number,
  ) {
    this.store = new BlobCheckpointStore(container);
    // Only for the namespace and hub name the SDK keys the records with; it never connects.
    this.client = new EventHubConsumerClient(consumerGroup, eventHubConnectionString);
  }

  async read(now = Date.now()): Promise<OwnershipView> {
    const records = await this.store.listOwnership(this.client.fullyQualifiedNamespace, this.client.eventHubName, this.consumerGroup);
    const owners = new Map<string, string>();
    const byOwner = new Map<string, string[]>();
    for (const record of records) {
      if (!record.ownerId || record.lastModifiedTimeInMs === undefined || now - record.lastModifiedTimeInMs >= this.expiryMs) continue;
      owners.set(record.partitionId, record.ownerId);
      byOwner.set(record.ownerId, [...(byOwner.get(record.ownerId) ?? []), record.partitionId]);
    }
    return { owners, byOwner };
  }

  /** True when every one of `partitionCount` partitions has a live claim by one of `hosts`. */
  async ownedBy(hosts: readonly string[], partitionCount: number): Promise<boolean> {
    const { owners } = await this.read();
    return owners.size === partitionCount && [...owners.values()].every((owner) => hosts.includes(owner));
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
