/**
 * Reads what the emulator's built-in endpoint received for one device, through @azure/event-hubs: from the start of
 * the device's partition, keeping the events `keep` accepts, until `count` of them arrived (or the timeout).
 */
import { EventHubConsumerClient, earliestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import type { IotHubEmulator } from '../emulator/index';

const FAST_RETRY = { maxRetries: 1, retryDelayInMs: 20, maxRetryDelayInMs: 50, timeoutInMs: 3000 };

export async function readDeviceEvents(
  emulator: IotHubEmulator,
  deviceId: string,
  count: number,
  keep: (event: ReceivedEventData) => boolean = () => true,
  timeoutMs = 8000,
): Promise<ReceivedEventData[]> {
  const consumer = new EventHubConsumerClient('$Default', emulator.eventHubConnectionString, { retryOptions: FAST_RETRY });
  const received: ReceivedEventData[] = [];
  try {
    return await new Promise<ReceivedEventData[]>((resolve, reject) => {
      const subscription = consumer.subscribe(
        emulator.events.partitionFor(deviceId),
        {
          processEvents: async (events) => {
            received.push(...events.filter((event) => event.systemProperties?.['iothub-connection-device-id'] === deviceId && keep(event)));
            if (received.length >= count) {
              clearTimeout(timer);
              await subscription.close();
              resolve(received.slice(0, count));
            }
          },
          processError: async (error) => {
            clearTimeout(timer);
            await subscription.close();
            reject(error);
          },
        },
        { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
      );
      const timer = setTimeout(
        () => void subscription.close().then(() => reject(new Error(`received ${received.length} of ${count} events for ${deviceId}`))),
        timeoutMs,
      );
    });
  } finally {
    await consumer.close();
  }
}

/** The event's `iothub-message-source` (Telemetry, twinChangeEvents, deviceConnectionStateEvents, …). */
export function messageSourceOf(event: ReceivedEventData): unknown {
  return event.systemProperties?.['iothub-message-source'];
}
