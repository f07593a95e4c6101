import type { InvocationContext, StorageQueueFunctionOptions } from '@azure/functions';
import { complianceTriggerBinding } from '../shared/config/trigger-bindings';
import { getSweepServices } from '../shared/container';
import { decodeSweepMessage } from '../shared/services/sweep/decode-sweep-message';
import { dequeueCountOf, handleSweepDelivery } from '../shared/services/sweep/handle-sweep-delivery';
import type { MessageOutcome } from '../shared/services/sweep/message-outcome';
import type { SweepServices } from '../shared/services/sweep/sweep-services';
import { loggerFor } from '../shared/triggers/invocation-logger';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

export const SWEEP_SHARD_FUNCTION = 'sweep-shard';

/**
 * Deliveries of a queue message before the host moves it to `<queue>-poison`: host.json
 * `extensions.queues.maxDequeueCount`, which this app leaves at its default, 5 ("Azure Queue storage trigger for
 * Azure Functions", learn.microsoft.com: host.json settings and poison messages); the standalone host's QueuePoller
 * uses the same default.
 */
export const SWEEP_MAX_DEQUEUE_COUNT = 5;

/**
 * Queue: one plan, shard, finalize or import-poll step. Throwing makes the queue redeliver it (resume from the
 * cursor); a step that throws on the message's last delivery first ends the run as failed with the reason.
 */
export function makeSweepShardHandler(services: () => Promise<SweepServices>, options: { maxDequeueCount?: number } = {}) {
  const maxDequeueCount = options.maxDequeueCount ?? SWEEP_MAX_DEQUEUE_COUNT;
  return async function sweepShard(queueEntry: unknown, context: InvocationContext): Promise<MessageOutcome> {
    const message = decodeSweepMessage(queueEntry);
    const deps = await services();
    const dequeueCount = dequeueCountOf(context.triggerMetadata);
    const outcome = await handleSweepDelivery(
      message,
      { ...(dequeueCount === undefined ? {} : { dequeueCount }), maxDequeueCount },
      { ...deps, logger: loggerFor(context, { sweepId: message.sweepId }) },
    );
    loggerFor(context).info('sweep message handled', { ...message, outcome });
    return outcome;
  };
}

/** Poison messages (5 failed deliveries, the host default) go to `<queue>-poison`; a shard resumes from its persisted cursor on each redelivery. */
export const sweepShardOptions: StorageQueueFunctionOptions = {
  queueName: complianceTriggerBinding(process.env).queueName,
  connection: 'AzureWebJobsStorage',
  handler: makeSweepShardHandler(getSweepServices),
};

export const registrations: FunctionRegistration[] = [{ kind: 'storageQueue', name: SWEEP_SHARD_FUNCTION, options: sweepShardOptions }];

registerFunctions(registrations);
