import type { EventHubFunctionOptions, InvocationContext } from '@azure/functions';
import { eventsTriggerBinding } from '../shared/config/trigger-bindings';
import type { EventServices } from '../shared/composition/event-services';
import { getEventServices } from '../shared/container';
import { decodeBatch } from '../shared/domain/decode-events';
import { loggerFor } from '../shared/triggers/invocation-logger';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';
import { processEventBatch, type BatchReport } from '../shared/services/process-event-batch';

export const IOTHUB_EVENTS_FUNCTION = 'iothub-events';

/**
 * Builds the batch handler. Functions registers it with the container's services; tests and the
 * standalone host pass their own.
 */
export function makeIotHubEventsHandler(services: () => Promise<EventServices>) {
  return async function handleIotHubEvents(messages: unknown, context: InvocationContext): Promise<BatchReport> {
    const startedAt = Date.now();
    const deps = await services();
    const events = decodeBatch(messages, context.triggerMetadata);
    const partitionId = events[0]?.position.partitionId;
    const logger = loggerFor(context, { invocationId: context.invocationId, partitionId });
    const report = await processEventBatch(events, { ...deps, logger });
    logger.info('batch processed', { ...report, durationMs: Date.now() - startedAt });
    return report;
  };
}

export const handleIotHubEvents = makeIotHubEventsHandler(getEventServices);

/**
 * Trigger options, exported so registration can be checked without the Functions host.
 * - `dataType: 'binary'`: the endpoint carries arbitrary telemetry; with the default JSON binding a
 *   single non-JSON body fails the whole batch at binding time, and with 'string' the host decodes
 *   bytes as UTF-8 with U+FFFD for malformed sequences, so a binary body could never be dead-lettered
 *   as it arrived. With 'binary' the host sends `collectionBytes` and the worker hands over one Buffer
 *   per event (@azure/functions 4.x `src/converters/fromRpcTypedData.ts`: `collectionBytes` →
 *   `Buffer[]`); decodeBatch reads notifications as strict UTF-8 JSON and keeps other bytes as
 *   `base64:`. The v4 types lack the option, but unknown keys are passed through to the binding.
 * - `eventHubName`, `consumerGroup`: resolved from the app settings at registration, so the
 *   consumer group defaults to a dedicated one and the name may come from EntityPath.
 * - `retry`: the Event Hubs trigger checkpoints after an invocation even when it failed; a retry
 *   policy holds the checkpoint until the retries finish. Only transient failures throw (poison
 *   events are dead-lettered), so retrying without limit stalls a partition during an outage
 *   instead of skipping events.
 */
export const iothubEventsOptions: EventHubFunctionOptions & { dataType: 'binary' } = {
  connection: 'IOTHUB_EVENTS_CONNECTION',
  ...eventsTriggerBinding(process.env),
  cardinality: 'many',
  dataType: 'binary',
  retry: {
    strategy: 'exponentialBackoff',
    maxRetryCount: -1,
    minimumInterval: { seconds: 5 },
    maximumInterval: { minutes: 5 },
  },
  handler: handleIotHubEvents,
};

export const registrations: FunctionRegistration[] = [{ kind: 'eventHub', name: IOTHUB_EVENTS_FUNCTION, options: iothubEventsOptions }];

registerFunctions(registrations);
