/**
 * In-memory PostureStore with the same contract as TablePostureStore: create-if-absent and etag
 * conflicts, replay-overwrites history keyed like the table, newest-first paging with opaque tokens,
 * and the same key validation (an entry the table would reject is rejected here too).
 */
import { InvalidContinuationTokenError } from '../../errors';
import { encodeKeySegment, historyRowKey, invertedTicks } from '../../domain/table-keys';
import type { HistoryEntry, LatestPosture } from '../../domain/types';
import type { HistoryPage, HistoryQuery, LatestWriteResult, PostureChange, PostureStore, StoredLatest } from '../../ports/posture-store';
import { settle } from './settle';

const MAX_HISTORY_PAGE_SIZE = 1000;

function encodeToken(afterRowKey: string): string {
  return Buffer.from(JSON.stringify({ after: afterRowKey }), 'utf8').toString('base64');
}

function decodeToken(token: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { after?: unknown }).after === 'string')
      return (parsed as { after: string }).after;
  } catch {
    // fall through to the error below
  }
  throw new InvalidContinuationTokenError();
}

/**
 * Records are copied shallowly on the way in and out: the domain treats postures and history entries
 * as immutable values (every merge builds new objects), and a deep clone per call would dominate the
 * in-memory benchmark.
 */
export class MemoryPostureStore implements PostureStore {
  private readonly latest = new Map<string, StoredLatest>();
  /** Per encoded device key: RowKey → entry. */
  private readonly history = new Map<string, Map<string, HistoryEntry>>();
  private etagCounter = 0;

  getLatest(deviceId: string): Promise<StoredLatest | undefined> {
    return settle(() => {
      const stored = this.latest.get(encodeKeySegment(deviceId));
      return stored && { posture: { ...stored.posture }, etag: stored.etag };
    });
  }

  readLatest(deviceId: string): Promise<StoredLatest | undefined> {
    return this.getLatest(deviceId);
  }

  async getLatestMany(deviceIds: readonly string[]): Promise<Map<string, StoredLatest>> {
    const found = new Map<string, StoredLatest>();
    for (const deviceId of deviceIds) {
      const stored = await this.getLatest(deviceId);
      if (stored) found.set(deviceId, stored);
    }
    return found;
  }

  async commit(changes: readonly PostureChange[]): Promise<{ conflicts: string[] }> {
    await this.appendHistory(changes.flatMap((change) => change.history));
    const conflicts: string[] = [];
    for (const change of changes) {
      if ((await this.writeLatest(change.latest, change.etag)) === 'conflict') conflicts.push(change.latest.deviceId);
    }
    return { conflicts };
  }

  writeLatest(posture: LatestPosture, etag: string | undefined): Promise<LatestWriteResult> {
    return settle(() => {
      const key = encodeKeySegment(posture.deviceId);
      const current = this.latest.get(key);
      if (etag === undefined ? current !== undefined : current?.etag !== etag && etag !== '*') return 'conflict';
      if (etag === '*' && current === undefined) return 'conflict';
      this.etagCounter += 1;
      this.latest.set(key, { posture: { ...posture }, etag: `W/"memory-${this.etagCounter}"` });
      return 'written';
    });
  }

  appendHistory(entries: HistoryEntry[]): Promise<void> {
    return settle(() => {
      // Keys are computed up front so an invalid entry rejects the call before anything is written.
      const keyed = entries.map((entry) => ({
        partitionKey: encodeKeySegment(entry.deviceId),
        rowKey: historyRowKey(entry.at, entry.partitionId, entry.sequenceNumber),
        entry,
      }));
      for (const { partitionKey, rowKey, entry } of keyed) {
        let rows = this.history.get(partitionKey);
        if (!rows) this.history.set(partitionKey, (rows = new Map<string, HistoryEntry>()));
        rows.set(rowKey, { ...entry });
      }
    });
  }

  listHistory(deviceId: string, query: HistoryQuery): Promise<HistoryPage> {
    return settle(() => {
      if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_HISTORY_PAGE_SIZE) {
        throw new RangeError(`limit must be an integer between 1 and ${MAX_HISTORY_PAGE_SIZE}, got ${query.limit}`);
      }
      const lower = query.to ? invertedTicks(query.to) : undefined;
      const upperExclusive = query.from ? invertedTicks(new Date(query.from.getTime() - 1)) : undefined;
      const after = query.continuationToken ? decodeToken(query.continuationToken) : undefined;
      const rows = [...(this.history.get(encodeKeySegment(deviceId)) ?? new Map<string, HistoryEntry>()).entries()]
        .filter(
          ([rowKey]) =>
            (lower === undefined || rowKey >= lower) &&
            (upperExclusive === undefined || rowKey < upperExclusive) &&
            (after === undefined || rowKey > after),
        )
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const page = rows.slice(0, query.limit);
      const entries = page.map(([, entry]) => ({ ...entry }));
      const last = page[page.length - 1];
      return rows.length > page.length && last ? { entries, continuationToken: encodeToken(last[0]) } : { entries };
    });
  }

  /** Number of history rows stored for a device (test and benchmark introspection). */
  historyCount(deviceId: string): number {
    return this.history.get(encodeKeySegment(deviceId))?.size ?? 0;
  }
}
