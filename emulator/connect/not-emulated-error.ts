/**
 * What a routed client gets when it opens a connection the emulator does not serve. It carries no `code`: the device
 * SDK turns socket errors with a code (ENOTFOUND, ECONNREFUSED) into a retryable `NotConnectedError`
 * (azure-iot-mqtt-base dist/mqtt_translate_error.js, SRS_NODE_DEVICE_MQTT_ERRORS_16_001) and would retry for minutes,
 * while an error whose name is not in azure-iot-common's `DefaultErrorFilter` (dist/retry_error_filter.js) is not
 * retried, and core-amqp retries only errors marked `retryable`. So the caller sees this message at once.
 */
export class NotEmulatedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotEmulatedError';
  }
}
