/** AlertOutbox in memory, for handler tests; same ordering and insert-if-absent semantics as the table. */
import type { AlertOutbox, OutboxEntry, OutboxRow } from '../../ports/alert-outbox';

export class MemoryAlertOutbox implements AlertOutbox {
  readonly rows = new Map<string, OutboxRow>();

  add(entries: readonly OutboxEntry[], at: Date): Promise<number> {
    let created = 0;
    for (const entry of entries) {
      if (this.rows.has(entry.sequence)) continue;
      this.rows.set(entry.sequence, { ...entry, status: 'pending', attempts: 0, nextAttemptAt: at.toISOString() });
      created += 1;
    }
    return Promise.resolve(created);
  }

  private sorted(status: OutboxRow['status'], limit: number): OutboxRow[] {
    return [...this.rows.values()]
      .filter((row) => row.status === status)
      .sort((a, b) => (a.sequence < b.sequence ? -1 : 1))
      .slice(0, limit)
      .map((row) => ({ ...row }));
  }

  pending(limit: number): Promise<OutboxRow[]> {
    return Promise.resolve(this.sorted('pending', limit));
  }

  deadLettered(limit: number): Promise<OutboxRow[]> {
    return Promise.resolve(this.sorted('deadLettered', limit));
  }

  private update(rows: readonly OutboxRow[], change: (row: OutboxRow) => Partial<OutboxRow>): Promise<void> {
    for (const row of rows) {
      const stored = this.rows.get(row.sequence);
      if (stored) this.rows.set(row.sequence, { ...stored, ...change(stored) });
    }
    return Promise.resolve();
  }

  markSent(rows: readonly OutboxRow[]): Promise<void> {
    return this.update(rows, () => ({ status: 'sent' }));
  }

  markRetry(rows: readonly OutboxRow[], nextAttemptAt: Date, error: string): Promise<void> {
    return this.update(rows, (row) => ({ attempts: row.attempts + 1, nextAttemptAt: nextAttemptAt.toISOString(), lastError: error }));
  }

  markDeadLettered(rows: readonly OutboxRow[], error: string): Promise<void> {
    return this.update(rows, (row) => ({ status: 'deadLettered', attempts: row.attempts + 1, lastError: error }));
  }

  purgeSent(): Promise<number> {
    return Promise.resolve(0);
  }

  private lease: { holder: string; until: number } | undefined;

  acquireLease(holder: string, now: Date, until: Date): Promise<boolean> {
    if (this.lease && this.lease.holder !== holder && this.lease.until > now.getTime()) return Promise.resolve(false);
    this.lease = { holder, until: until.getTime() };
    return Promise.resolve(true);
  }

  releaseLease(holder: string): Promise<void> {
    if (this.lease?.holder === holder) this.lease = undefined;
    return Promise.resolve();
  }
}
