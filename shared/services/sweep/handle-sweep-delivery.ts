/**
 * One delivery of a sweep message as the queue trigger makes it. A step that throws is redelivered by the queue;
 * on the last delivery the queue allows (`dequeueCount` ≥ maxDequeueCount, after which the message goes to
 * `<queue>-poison`), the run is marked failed with the step and the error before the error is rethrown, so a
 * sweep that cannot finish ends as `failed` instead of staying `running` forever. A handler that never gets to
 * throw (the process died on the last delivery) is caught later by failStalledRuns.
 */
import { errorMessage } from '../../errors';
import type { SweepMessage } from '../../ports/sweep-queue';
import { describeStep, failSweep } from './fail-sweep';
import { handleSweepMessage } from './handle-sweep-message';
import type { MessageOutcome } from './message-outcome';
import type { SweepServices } from './sweep-services';

/**
 * The queue trigger metadata's `dequeueCount` (the message's DequeueCount, this delivery included; both the Functions
 * host and the standalone host's QueuePoller pass it) as a number, whichever form it comes in; undefined when absent.
 */
export function dequeueCountOf(triggerMetadata: Record<string, unknown> | undefined): number | undefined {
  const value = triggerMetadata?.['dequeueCount'];
  const count = typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string' ? Number(value) : NaN;
  return Number.isInteger(count) && count > 0 ? count : undefined;
}

export interface Delivery {
  /** How many times the queue has handed this message out, this delivery included; undefined when unknown. */
  dequeueCount?: number;
  maxDequeueCount: number;
}

export async function handleSweepDelivery(message: SweepMessage, delivery: Delivery, services: SweepServices): Promise<MessageOutcome> {
  try {
    return await handleSweepMessage(message, services);
  } catch (error) {
    const count = delivery.dequeueCount;
    if (count !== undefined && count >= delivery.maxDequeueCount) {
      const reason = `${describeStep(message)} failed on its last delivery (${count} of ${delivery.maxDequeueCount}): ${errorMessage(error)}`;
      try {
        await failSweep(message.sweepId, reason, services);
      } catch (failError) {
        // Storage itself is failing: the run stays as it is until failStalledRuns finds it.
        services.logger.error('compliance sweep could not be marked failed', { sweepId: message.sweepId, error: errorMessage(failError) });
      }
    }
    throw error;
  }
}
