/** Notifications that could not be processed, kept with their raw payload. Real adapter: shared/adapters/table-dead-letter-store.ts. */
import type { DeadLetter } from '../domain/types';

export interface DeadLetterStore {
  /** Idempotent: keyed by (partitionId, sequenceNumber). Payload truncated to fit one entity. */
  record(letters: DeadLetter[]): Promise<void>;
}
