/** Notifications that could not be processed, kept with their raw payload. Real adapter: shared/adapters/table-dead-letter-store.ts. */
import type { DeadLetter } from '../domain/types';

/** One dead letter as the read API lists it: the payload cut to a preview. */
export interface DeadLetterSummary {
  partitionId: string;
  sequenceNumber: number;
  offset: string;
  enqueuedTime: string;
  recordedAt: string;
  deviceId?: string;
  reason: string;
  source?: string;
  schema?: string;
  rawSize: number;
  /** The first characters of the stored payload (binary as `base64:` + base64). */
  rawPreview: string;
  /** True when the preview is shorter than the payload the event carried. */
  rawPreviewTruncated: boolean;
}

export interface DeadLetterStore {
  /** Idempotent: keyed by (partitionId, sequenceNumber). Payload truncated to fit one entity. */
  record(letters: DeadLetter[]): Promise<void>;
}

/** The read API's view of the dead letters (GET /api/dead-letters, the dashboard's count). */
export interface DeadLetterReader {
  /** A page in key order (enqueued day, then partition and sequence number); the token is opaque. Throws InvalidContinuationTokenError. */
  list(query: {
    limit: number;
    previewChars: number;
    continuationToken?: string;
  }): Promise<{ letters: DeadLetterSummary[]; continuationToken?: string }>;
  /** How many are stored, counting at most `cap` (then `capped`). */
  count(cap: number): Promise<{ count: number; capped: boolean }>;
}
