/**
 * Host name of the emulated hub's Event Hub-compatible endpoint, shaped like the namespace IoT Hub gives its built-in
 * endpoint (`iothub-ns-{hub prefix}-{id}-{hash}.servicebus.windows.net`; the portal's "Event Hub-compatible endpoint",
 * https://learn.microsoft.com/azure/iot-hub/iot-hub-devguide-messages-read-builtin). Scripts using the portal's
 * connection string reach the emulator through emulator/connect.ts.
 */
export function eventHubNamespaceHostFor(eventHubName: string): string {
  // eventHubName is `iothub-ehub-{prefix}-{hash}` (emulator/index.ts); the namespace reuses prefix and hash.
  return `${eventHubName.replace(/^iothub-ehub-/, 'iothub-ns-')}.servicebus.windows.net`;
}
