import type { SweepRun, SweepTrigger } from '../../ports/sweep-store';
import type { SweepServices } from './sweep-services';

/** `sw-20261123T020000Z-1a2b3c`: sortable by start, unique enough for on-demand runs. */
export function newSweepId(at: Date, uniqueSuffix: string): string {
  return `sw-${at.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z-${uniqueSuffix}`;
}

/**
 * Creates the run and enqueues its plan message. A scheduled sweep passes a deterministic id (from the schedule
 * time), so a timer that fires twice starts one sweep. Returns the run as created (or as already stored).
 */
export async function startSweep(
  input: { sweepId: string; trigger: SweepTrigger; dryRun: boolean },
  services: Pick<SweepServices, 'sweeps' | 'queue' | 'now'>,
): Promise<{ run: SweepRun; created: boolean }> {
  const run: SweepRun = {
    sweepId: input.sweepId,
    trigger: input.trigger,
    dryRun: input.dryRun,
    status: 'planning',
    startedAt: services.now().toISOString(),
  };
  const result = await services.sweeps.createRun(run);
  if (result === 'conflict') {
    const existing = await services.sweeps.getRun(input.sweepId);
    if (existing) return { run: existing.value, created: false };
  }
  await services.queue.send({ kind: 'plan', sweepId: input.sweepId });
  return { run, created: true };
}
