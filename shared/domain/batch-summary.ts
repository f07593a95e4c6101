import type { DecodedEvent, SkippedCategory } from './types';

/** Counts for the batch log line; every kind and category is present (zero when absent) so log shapes are stable. */
export interface BatchSummary {
  total: number;
  byKind: Record<string, number>;
  skipped: Record<SkippedCategory, number>;
  invalid: number;
}

/** Tallies decoded events by kind and skipped category. */
export function summarize(events: readonly DecodedEvent[]): BatchSummary {
  const byKind: Record<string, number> = {
    deviceCreated: 0,
    deviceDeleted: 0,
    moduleCreated: 0,
    moduleDeleted: 0,
    twinChanged: 0,
    skipped: 0,
    invalid: 0,
  };
  const skippedCounts: Record<SkippedCategory, number> = { telemetry: 0, connectionState: 0, digitalTwin: 0, jobLifecycle: 0, other: 0 };
  for (const event of events) {
    byKind[event.kind] = (byKind[event.kind] ?? 0) + 1;
    if (event.kind === 'skipped') skippedCounts[event.category] += 1;
  }
  return { total: events.length, byKind, skipped: skippedCounts, invalid: byKind['invalid'] ?? 0 };
}
