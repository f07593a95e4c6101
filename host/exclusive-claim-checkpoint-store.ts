/**
 * The blob checkpoint store the standalone host gives the Event Hubs processor: `@azure/eventhubs-checkpointstore-blob`
 * with one change, an exclusive first claim. Its `claimOwnership` writes a partition's first ownership record without
 * a condition (setMetadata, or upload when the blob is missing), so hosts that start together on a new container all
 * "win" the same partition and all read it until the claims sort themselves out (the Python SDK's store had the same
 * race: Azure/azure-sdk-for-python#38812; the .NET store creates the blob only if it does not exist). Here a claim
 * without an etag creates the blob with `If-None-Match: *`: one host wins, the others get 409 and try again on their
 * next pass with the winner's etag, like any contested claim. Every other operation is the SDK store's.
 */
import type { Checkpoint, CheckpointStore, OperationOptions, PartitionOwnership } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import type { ContainerClient } from '@azure/storage-blob';

/**
 * The SDK store's blob name for an ownership record (its private `getBlobPrefix`: names lower-cased because Event
 * Hubs names are case-insensitive), so both write and list the same blobs.
 */
export function ownershipBlobName(
  ownership: Pick<PartitionOwnership, 'fullyQualifiedNamespace' | 'eventHubName' | 'consumerGroup' | 'partitionId'>,
): string {
  return `${ownership.fullyQualifiedNamespace.toLowerCase()}/${ownership.eventHubName.toLowerCase()}/${ownership.consumerGroup.toLowerCase()}/ownership/${ownership.partitionId}`;
}

export class ExclusiveClaimCheckpointStore implements CheckpointStore {
  private readonly inner: BlobCheckpointStore;

  constructor(private readonly container: ContainerClient) {
    this.inner = new BlobCheckpointStore(container);
  }

  listOwnership(
    fullyQualifiedNamespace: string,
    eventHubName: string,
    consumerGroup: string,
    options?: OperationOptions,
  ): Promise<PartitionOwnership[]> {
    return this.inner.listOwnership(fullyQualifiedNamespace, eventHubName, consumerGroup, options);
  }

  listCheckpoints(
    fullyQualifiedNamespace: string,
    eventHubName: string,
    consumerGroup: string,
    options?: OperationOptions,
  ): Promise<Checkpoint[]> {
    return this.inner.listCheckpoints(fullyQualifiedNamespace, eventHubName, consumerGroup, options);
  }

  updateCheckpoint(checkpoint: Checkpoint, options?: OperationOptions): Promise<void> {
    return this.inner.updateCheckpoint(checkpoint, options);
  }

  async claimOwnership(requests: PartitionOwnership[], options: OperationOptions = {}): Promise<PartitionOwnership[]> {
    const claimed: PartitionOwnership[] = [];
    for (const request of requests) {
      if (request.etag) {
        // Renewals, claims of a known record and abandoning: conditional on the etag already (412 = lost).
        claimed.push(...(await this.inner.claimOwnership([request], options)));
        continue;
      }
      try {
        const response = await this.container.getBlockBlobClient(ownershipBlobName(request)).upload('', 0, {
          metadata: { ownerid: request.ownerId },
          conditions: { ifNoneMatch: '*' },
          abortSignal: options.abortSignal,
          tracingOptions: options.tracingOptions,
        });
        claimed.push({ ...request, etag: response.etag, lastModifiedTimeInMs: response.lastModified?.getTime() });
      } catch (err) {
        // Another host created the record first: its claim stands.
        const status = (err as { statusCode?: unknown }).statusCode;
        if (status === 409 || status === 412) continue;
        throw err;
      }
    }
    return claimed;
  }
}
