/**
 * When a sweep run counts as stalled, pure. A step whose handler never finishes its last delivery (the process died,
 * the function timed out) has its message moved to the poison queue without the handler seeing it again, so the run
 * cannot mark itself failed; the next timer occurrence finds it by its silence instead. Every step records progress
 * (run row updatedAt, shard rows after every bucket, import polls at least every few minutes), so a run that has
 * recorded nothing for longer than every delivery of a message could take has lost its message.
 */

/**
 * How long a run may record no progress before it is stalled: 5 deliveries (the queue trigger's maxDequeueCount)
 * × the 10-minute function timeout (host.json functionTimeout; the standalone host's processing lease is as long),
 * plus the same again for the message's own visibility delays.
 */
export const STALLED_AFTER_MS = 2 * 5 * 10 * 60_000;

/** The newest progress instant (ms) of a run: its own updatedAt (or start) and its shards' updatedAt. */
export function lastActivityMs(run: { startedAt: string; updatedAt?: string }, shards: ReadonlyArray<{ updatedAt: string }>): number {
  let latest = Date.parse(run.updatedAt ?? run.startedAt);
  if (!Number.isFinite(latest)) latest = Date.parse(run.startedAt);
  for (const shard of shards) {
    const at = Date.parse(shard.updatedAt);
    if (Number.isFinite(at) && at > latest) latest = at;
  }
  return latest;
}

export function isStalled(
  run: { startedAt: string; updatedAt?: string },
  shards: ReadonlyArray<{ updatedAt: string }>,
  now: Date,
  stalledAfterMs: number = STALLED_AFTER_MS,
): boolean {
  return now.getTime() - lastActivityMs(run, shards) > stalledAfterMs;
}
