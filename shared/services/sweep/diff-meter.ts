/** The registry calls made between two meter snapshots. */
export function diffMeter(
  before: { queries: number; operations: number; throttles: number },
  after: { queries: number; operations: number; throttles: number },
) {
  return {
    queries: after.queries - before.queries,
    operations: after.operations - before.operations,
    throttles: after.throttles - before.throttles,
  };
}
