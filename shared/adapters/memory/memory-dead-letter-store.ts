/** In-memory DeadLetterStore: keyed like the table (replay overwrites), payload truncated the same way. */
import { deadLetterKeys } from '../../domain/table-keys';
import type { DeadLetter } from '../../domain/types';
import type { DeadLetterStore } from '../../ports/dead-letter-store';
import { truncateString } from '../table-clients';
import { MAX_RAW_CHARS } from '../table-dead-letter-store';
import { settle } from './settle';

export interface StoredDeadLetter extends DeadLetter {
  rawTruncated: boolean;
}

export class MemoryDeadLetterStore implements DeadLetterStore {
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
}
