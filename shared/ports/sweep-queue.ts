/** The queue a sweep fans out through. Real adapter: shared/adapters/storage-sweep-queue.ts (Azure Storage Queue). */
export type SweepMessage =
  | { kind: 'plan'; sweepId: string }
  | { kind: 'shard'; sweepId: string; shard: number }
  | { kind: 'finalize'; sweepId: string }
  | { kind: 'importJob'; sweepId: string; jobId: string };

export interface SweepQueue {
  /** At-least-once: a message may be delivered twice; every handler step is idempotent. */
  send(message: SweepMessage, visibilityDelaySeconds?: number): Promise<void>;
}
