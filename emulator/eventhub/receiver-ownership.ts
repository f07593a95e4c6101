/**
 * Who may read a partition of one consumer group, by Event Hubs' epoch (owner level) rules:
 * - a receiver with epoch e2 displaces receivers with epoch e1 ≤ e2 and every non-epoch receiver (they are
 *   detached with `amqp:link:stolen`, the SDK's ReceiverDisconnectedError);
 * - a receiver with a lower epoch than an attached one, or without an epoch while an epoch receiver is attached, is
 *   refused with the same condition;
 * - at most 5 non-epoch receivers per partition and consumer group (`amqp:resource-limit-exceeded`, QuotaExceededError).
 * Sources: "Event Hubs Receiver Epoch" (learn.microsoft.com/archive/blogs/gyan/event-hubs-receiver-epoch),
 * EventHubClient.CreateEpochReceiver (learn.microsoft.com/dotnet/api/microsoft.azure.eventhubs.eventhubclient.createepochreceiver),
 * Event Hubs quotas ("Number of non-epoch receivers per consumer group: 5"); conditions from core-amqp errors.js.
 * `@azure/event-hubs` puts the epoch in the attach properties as `com.microsoft:epoch` (partitionReceiver.js); the
 * EventHubConsumerClient with a checkpoint store attaches with owner level 0.
 */
export const EPOCH_PROPERTY = 'com.microsoft:epoch';
export const MAX_NON_EPOCH_RECEIVERS = 5;

export interface OwnedReceiver {
  readonly epoch: number | undefined;
}

export type Admission<T> =
  | { admitted: true; displaced: T[]; displacement?: { condition: string; description: string } }
  | { admitted: false; condition: string; description: string };

/** Decides whether a receiver with `epoch` may attach next to `existing`, and which of them it displaces. */
export function admitReceiver<T extends OwnedReceiver>(existing: readonly T[], epoch: number | undefined, where: string): Admission<T> {
  const epochs = existing.map((reader) => reader.epoch).filter((value): value is number => value !== undefined);
  const highest = epochs.length > 0 ? Math.max(...epochs) : undefined;
  if (epoch === undefined) {
    if (highest !== undefined) {
      return {
        admitted: false,
        condition: 'amqp:link:stolen',
        description: `A receiver without an epoch cannot be created on ${where} because a receiver with epoch '${highest}' already exists.`,
      };
    }
    if (existing.length >= MAX_NON_EPOCH_RECEIVERS) {
      return {
        admitted: false,
        condition: 'amqp:resource-limit-exceeded',
        description: `Exceeded the maximum number of allowed receivers per partition in a consumer group which is ${MAX_NON_EPOCH_RECEIVERS} (${where}).`,
      };
    }
    return { admitted: true, displaced: [] };
  }
  if (highest !== undefined && highest > epoch) {
    return {
      admitted: false,
      condition: 'amqp:link:stolen',
      description: `Receiver with epoch '${epoch}' cannot be created on ${where} because a receiver with a higher epoch '${highest}' already exists.`,
    };
  }
  if (existing.length === 0) return { admitted: true, displaced: [] };
  return {
    admitted: true,
    displaced: [...existing],
    displacement: {
      condition: 'amqp:link:stolen',
      description: `New receiver with higher epoch of '${epoch}' is created on ${where}, hence the current receiver is getting disconnected.`,
    },
  };
}

/** The epoch a peer's attach names, if any (rhea decodes the AMQP long as a number). */
export function epochOf(attachProperties: unknown): number | undefined {
  if (typeof attachProperties !== 'object' || attachProperties === null) return undefined;
  const value = (attachProperties as Record<string, unknown>)[EPOCH_PROPERTY];
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}
