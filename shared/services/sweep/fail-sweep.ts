/**
 * Ends a run as `failed` with the reason: the step that could not finish and why. Idempotent (a run that has already
 * ended is left as it is) and safe against concurrent writers: the run is replaced with its etag, re-read and retried
 * on a conflict. Every later message of the run is then ignored by its step (each one checks the run's status).
 */
import type { SweepMessage } from '../../ports/sweep-queue';
import type { SweepRun } from '../../ports/sweep-store';
import type { SweepServices } from './sweep-services';

/** Longest reason kept on the run row. */
const MAX_ERROR_CHARS = 1_000;
const MAX_ATTEMPTS = 5;

/** The step a message drives, as a failure reason names it. */
export function describeStep(message: SweepMessage): string {
  switch (message.kind) {
    case 'plan':
      return 'plan';
    case 'shard':
      return `shard ${message.shard}`;
    case 'finalize':
      return 'finalize';
    case 'importJob':
      return `import job ${message.jobId}`;
  }
}

export function isEnded(run: SweepRun): boolean {
  return run.status === 'completed' || run.status === 'failed';
}

export async function failSweep(
  sweepId: string,
  reason: string,
  services: Pick<SweepServices, 'sweeps' | 'now' | 'logger'>,
): Promise<'failed' | 'ignored'> {
  const error = reason.length <= MAX_ERROR_CHARS ? reason : `${reason.slice(0, MAX_ERROR_CHARS - 1)}…`;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const stored = await services.sweeps.getRun(sweepId);
    if (!stored || isEnded(stored.value)) return 'ignored';
    const at = services.now().toISOString();
    const failed: SweepRun = { ...stored.value, status: 'failed', error, completedAt: at, updatedAt: at };
    if ((await services.sweeps.updateRun(failed, stored.etag)) === 'written') {
      services.logger.error('compliance sweep failed', { sweepId, error });
      return 'failed';
    }
  }
  services.logger.warn('compliance sweep could not be marked failed: its run kept changing', { sweepId, error });
  return 'ignored';
}
