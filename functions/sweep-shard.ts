import type { InvocationContext, StorageQueueFunctionOptions } from '@azure/functions';
import { complianceTriggerBinding } from '../shared/config/trigger-bindings';
import { getSweepServices } from '../shared/container';
import { decodeSweepMessage } from '../shared/services/sweep/decode-sweep-message';
import { handleSweepMessage } from '../shared/services/sweep/handle-sweep-message';
import type { MessageOutcome } from '../shared/services/sweep/message-outcome';
import type { SweepServices } from '../shared/services/sweep/sweep-services';
import { loggerFor } from '../shared/triggers/invocation-logger';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

export const SWEEP_SHARD_FUNCTION = 'sweep-shard';

/** Queue: one plan, shard, finalize or import-poll step. Throwing makes the queue redeliver it (resume from the cursor). */
export function makeSweepShardHandler(services: () => Promise<SweepServices>) {
  return async function sweepShard(queueEntry: unknown, context: InvocationContext): Promise<MessageOutcome> {
    const message = decodeSweepMessage(queueEntry);
    const deps = await services();
    const outcome = await handleSweepMessage(message, { ...deps, logger: loggerFor(context, { sweepId: message.sweepId }) });
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
