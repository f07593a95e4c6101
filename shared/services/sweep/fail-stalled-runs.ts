/**
 * Called by the timer before it starts the next sweep: a run still `planning`/`running`/`importing` that has recorded
 * no progress for STALLED_AFTER_MS lost its message (a step whose process died on the message's last delivery is
 * poisoned without its handler seeing it again, so it could not mark the run failed itself). Such runs end as
 * `failed`, naming the silence; the new sweep starts regardless.
 */
import { isStalled, lastActivityMs, STALLED_AFTER_MS } from '../../domain/sweep-stall';
import { failSweep } from './fail-sweep';
import type { SweepServices } from './sweep-services';

/** In-progress runs looked at per timer occurrence (there is normally at most one). */
const MAX_RUNS = 20;

export async function failStalledRuns(
  services: Pick<SweepServices, 'sweeps' | 'now' | 'logger'>,
  stalledAfterMs: number = STALLED_AFTER_MS,
): Promise<string[]> {
  const now = services.now();
  const active = await services.sweeps.listRuns({ statuses: ['planning', 'running', 'importing'], limit: MAX_RUNS });
  const failed: string[] = [];
  for (const { value: run } of active) {
    const shards = await services.sweeps.listShards(run.sweepId);
    if (!isStalled(run, shards, now, stalledAfterMs)) continue;
    const since = new Date(lastActivityMs(run, shards)).toISOString();
    const reason = `stalled while ${run.status}: no progress since ${since}; a step's message most likely exhausted its deliveries and went to the poison queue`;
    if ((await failSweep(run.sweepId, reason, services)) === 'failed') failed.push(run.sweepId);
  }
  return failed;
}
