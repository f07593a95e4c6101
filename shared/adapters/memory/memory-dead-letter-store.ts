/** In-memory DeadLetterStore: keyed like the table (replay overwrites), payload truncated the same way. */
import { deadLetterKeys } from '../../domain/table-keys';
import type { DeadLetter } from '../../domain/types';
import { InvalidContinuationTokenError } from '../../errors';
import { decodePagingToken, encodePagingToken } from '../../domain/paging-token';
import type { DeadLetterReader, DeadLetterStore, DeadLetterSummary } from '../../ports/dead-letter-store';
import { truncateString } from '../table-clients';
import { MAX_RAW_CHARS } from '../table-dead-letter-store';
import { settle } from './settle';

export interface StoredDeadLetter extends DeadLetter {
  rawTruncated: boolean;
}

export class MemoryDeadLetterStore implements DeadLetterStore, DeadLetterReader {
  private readonly letters = new Map<string, StoredDeadLetter>();

  record(letters: DeadLetter[]): Promise<void> {
    return settle(() => {
      const keyed = letters.map((letter) => ({ keys: deadLetterKeys(letter.position), letter }));
      for (const { keys, letter } of keyed) {
        const raw = truncateString(letter.raw, MAX_RAW_CHARS);
        this.letters.set(`${keys.partitionKey}/${keys.rowKey}`, {
          ...structuredClone(letter),
          raw,
          rawTruncated: raw.length < letter.raw.length,
        });
      }
    });
  }

  /** Everything recorded, ordered by key (day, then partition and sequence number). */
  all(): StoredDeadLetter[] {
    return [...this.letters.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, letter]) => structuredClone(letter));
  }

  list(query: {
    limit: number;
    previewChars: number;
    continuationToken?: string;
  }): Promise<{ letters: DeadLetterSummary[]; continuationToken?: string }> {
    return settle(() => {
      let after = '';
      if (query.continuationToken !== undefined) {
        const decoded = decodePagingToken(query.continuationToken);
        if (typeof decoded?.['after'] !== 'string') throw new InvalidContinuationTokenError();
        after = decoded['after'];
      }
      const keys = [...this.letters.keys()].sort().filter((key) => key > after);
      const page = keys.slice(0, query.limit);
      const letters = page.map((key) => summaryOf(this.letters.get(key) as StoredDeadLetter, query.previewChars));
      const last = page[page.length - 1];
      return keys.length > page.length && last !== undefined
        ? { letters, continuationToken: encodePagingToken({ after: last }) }
        : { letters };
    });
  }

  count(cap: number): Promise<{ count: number; capped: boolean }> {
    return settle(() => (this.letters.size >= cap ? { count: cap, capped: true } : { count: this.letters.size, capped: false }));
  }
}

function summaryOf(letter: StoredDeadLetter, previewChars: number): DeadLetterSummary {
  const preview = letter.raw.slice(0, previewChars);
  const summary: DeadLetterSummary = {
    partitionId: letter.position.partitionId,
    sequenceNumber: letter.position.sequenceNumber,
    offset: letter.position.offset,
    enqueuedTime: letter.position.enqueuedTime.toISOString(),
    recordedAt: letter.recordedAt.toISOString(),
    reason: letter.reason,
    rawSize: letter.rawSize,
    rawPreview: preview,
    rawPreviewTruncated: preview.length < letter.raw.length || letter.rawTruncated,
  };
  if (letter.deviceId !== undefined) summary.deviceId = letter.deviceId;
  if (letter.source !== undefined) summary.source = letter.source;
  if (letter.schema !== undefined) summary.schema = letter.schema;
  return summary;
}
